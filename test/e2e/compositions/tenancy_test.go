package compositions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/controller"
	"github.com/stratus-operator/stratus/compositions/render"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/test/harness"
)

// impersonate returns a client acting as user, whose rights are the API
// server's own RBAC decision.
func impersonate(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(h.Env.ControlPlane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: h.Scheme})
	if err != nil {
		t.Fatalf("client for %s: %v", user, err)
	}
	return c
}

// platformMember returns a client acting as a member of the platform team:
// it may write CompositeDefinitions and read CRDs, and nothing else
// cluster-wide, through a ClusterRole the test creates.
func platformMember(t *testing.T, user string) client.Client {
	t.Helper()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "platform-" + user},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"compositedefinitions"}, Verbs: []string{"*"}},
			{APIGroups: []string{apiextv1.GroupName}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "platform-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := h.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("grant %s the platform team's rights: %v", user, err)
		}
		t.Cleanup(func() { _ = h.Client.Delete(context.Background(), o) })
	}
	return impersonate(t, user)
}

// tenantOf returns a client acting as an application team member of ns:
// harness.TenantRules there, and the instances of a composite (resource of
// group), which the platform team grants with the composite.
func tenantOf(t *testing.T, ns, user, group, resource string) client.Client {
	t.Helper()
	c := h.Tenant(t, ns, user)
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "composites"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{group}, Resources: []string{resource}, Verbs: []string{"*"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "composites-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := h.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("grant %s the composites of %s: %v", user, ns, err)
		}
	}
	return c
}

// parseDefinition parses a CompositeDefinition written as YAML.
func parseDefinition(t *testing.T, doc string) *v1alpha1.CompositeDefinition {
	t.Helper()
	def := &v1alpha1.CompositeDefinition{}
	if err := yaml.UnmarshalStrict([]byte(doc), def); err != nil {
		t.Fatalf("parse definition: %v\n%s", err, doc)
	}
	return def
}

// createDefinition creates def as c, and deletes it when the test ends.
func createDefinition(t *testing.T, c client.Client, def *v1alpha1.CompositeDefinition) {
	t.Helper()
	if err := c.Create(context.Background(), def); err != nil {
		t.Fatalf("create definition %s: %v", def.Name, err)
	}
	t.Cleanup(func() {
		if err := h.Client.Delete(context.Background(), def); client.IgnoreNotFound(err) != nil {
			t.Errorf("delete definition %s: %v", def.Name, err)
		}
	})
}

// instanceOf returns an instance of def named name in ns with spec.
func instanceOf(def *v1alpha1.CompositeDefinition, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(def.Spec.Group + "/" + render.StorageVersion(def))
	u.SetKind(def.Spec.Names.Kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// waitInstanceCondition waits until the instance u has condition typ with
// status and reason, and returns its message.
func waitInstanceCondition(t *testing.T, u *unstructured.Unstructured, typ, status, reason string) string {
	t.Helper()
	var msg string
	harness.Eventually(t, fmt.Sprintf("%s %s=%s (%s)", u.GetName(), typ, status, reason), func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] != typ {
				continue
			}
			if m["status"] != status || m["reason"] != reason {
				return fmt.Errorf("%s is %v (%v): %v", typ, m["status"], m["reason"], m["message"])
			}
			msg, _ = m["message"].(string)
			return nil
		}
		return fmt.Errorf("no %s condition yet; status %v", typ, u.Object["status"])
	})
	return msg
}

// wantContains fails the test unless msg contains every one of want.
func wantContains(t *testing.T, what, msg string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s = %q, want it to contain %q", what, msg, w)
		}
	}
}

// noCRD fails the test if the CRD name exists.
func noCRD(t *testing.T, name string) {
	t.Helper()
	crd := &apiextv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if exists(t, crd) {
		t.Errorf("the CustomResourceDefinition %s exists: the definition was served", name)
	}
}

// TestCompositionCannotGrantClusterAdmin: a platform team member writes a
// definition that composes a ClusterRoleBinding to cluster-admin for
// ${spec.who}. It is not valid, names the kind and where the platform team
// lists what compositions may create, and is not served: a tenant cannot
// create an instance, and no ClusterRoleBinding is ever composed.
func TestCompositionCannotGrantClusterAdmin(t *testing.T) {
	platform := platformMember(t, "platform-erin")
	def := parseDefinition(t, `
apiVersion: compositions.stratus.dev/v1alpha1
kind: CompositeDefinition
metadata: {name: grants.escalate.example.com}
spec:
  group: escalate.example.com
  names: {kind: Grant, plural: grants}
  versions: [{name: v1alpha1, served: true, storage: true}]
  schema:
    spec:
      type: object
      properties:
        who: {type: string}
  resources:
    - name: admin
      template:
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: ${metadata.namespace + '-' + metadata.name}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
        subjects:
          - {apiGroup: rbac.authorization.k8s.io, kind: User, name: "${spec.who}"}
`)
	createDefinition(t, platform, def)
	refused := waitCondition(t, def, controller.ConditionValid, metav1.ConditionFalse, controller.ReasonKindNotComposable)
	wantContains(t, "Valid message", refused.Message,
		"resources[0] (admin) composes ClusterRoleBinding.rbac.authorization.k8s.io", "--composable-kinds", "compositions.composableKinds")
	if c := meta.FindStatusCondition(def.Status.Conditions, controller.ConditionEstablished); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Established = %+v, want False", c)
	}
	h.WaitEvent(t, def, "CompositeDefinition", "KindNotComposable")
	noCRD(t, "grants.escalate.example.com")

	ns := h.Namespace(t)
	mallory := tenantOf(t, ns, "mallory", def.Spec.Group, def.Spec.Names.Plural)
	grant := instanceOf(def, ns, "root", map[string]any{"who": "mallory"})
	err := mallory.Create(context.Background(), grant)
	if err == nil || !(meta.IsNoMatchError(err) || apierrors.IsNotFound(err)) {
		t.Errorf("mallory creates a Grant: %v, want no such kind", err)
	}

	// Nothing composed: no binding names mallory or carries the label of
	// the definition, and mallory holds no cluster-wide right.
	var bindings rbacv1.ClusterRoleBindingList
	if err := h.Client.List(context.Background(), &bindings); err != nil {
		t.Fatal(err)
	}
	for _, b := range bindings.Items {
		if b.Labels[render.LabelDefinition] != "" || slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return s.Name == "mallory" }) {
			t.Errorf("ClusterRoleBinding %s composed: %+v", b.Name, b.Subjects)
		}
	}
	var secrets corev1.SecretList
	if err := mallory.List(context.Background(), &secrets); !apierrors.IsForbidden(err) {
		t.Errorf("mallory lists the Secrets of every namespace: %v, want forbidden", err)
	}
}

// TestCompositionStaysInItsNamespace: a namespaced composite's resources
// are in its namespace; a definition whose template names another, or
// computes one, is not valid and not served.
func TestCompositionStaysInItsNamespace(t *testing.T) {
	platform := platformMember(t, "platform-frank")
	victim := h.NamespaceNamed(t, "stays-victim", nil)
	def := parseDefinition(t, `
apiVersion: compositions.stratus.dev/v1alpha1
kind: CompositeDefinition
metadata: {name: escapes.escape.example.com}
spec:
  group: escape.example.com
  names: {kind: Escape, plural: escapes}
  versions: [{name: v1alpha1, served: true, storage: true}]
  schema:
    spec:
      type: object
      properties:
        target: {type: string}
  resources:
    - name: fixed
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {namespace: stays-victim}
        data: {owner: mallory}
    - name: computed
      template:
        apiVersion: v1
        kind: Secret
        metadata: {namespace: "${spec.target}"}
        stringData: {owner: mallory}
`)
	createDefinition(t, platform, def)
	refused := waitCondition(t, def, controller.ConditionValid, metav1.ConditionFalse, controller.ReasonInvalidDefinition)
	wantContains(t, "Valid message", refused.Message,
		"resources[0] (fixed) template .metadata.namespace: the resources of a namespaced composite are in the composite's namespace",
		"resources[1] (computed) template .metadata.namespace: the resources of a namespaced composite are in the composite's namespace")
	noCRD(t, "escapes.escape.example.com")

	for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &corev1.SecretList{}} {
		if err := h.Client.List(context.Background(), list, client.InNamespace(victim), client.HasLabels{render.LabelDefinition}); err != nil {
			t.Fatal(err)
		}
		if n := meta.LenList(list); n != 0 {
			t.Errorf("%d objects composed in %s", n, victim)
		}
	}
}

// TestDefinitionCannotTakeOverAnAPI: a definition whose group or kind
// collides with an API that exists (Stratus's own, another project's CRD,
// Kubernetes', another definition's kind) is refused with a message
// naming it; the CRD it names is unchanged, and the guardrail webhook gets
// no rule for it.
func TestDefinitionCannotTakeOverAnAPI(t *testing.T) {
	platform := platformMember(t, "platform-grace")
	ctx := context.Background()

	// Another project's API, installed by the cluster's administrator.
	widgets := &apiextv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.other.example.com"},
		Spec: apiextv1.CustomResourceDefinitionSpec{
			Group: "other.example.com",
			Names: apiextv1.CustomResourceDefinitionNames{Kind: "Widget", ListKind: "WidgetList", Plural: "widgets", Singular: "widget"},
			Scope: apiextv1.NamespaceScoped,
			Versions: []apiextv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
	if err := h.Client.Create(ctx, widgets); err != nil {
		t.Fatalf("create CRD %s: %v", widgets.Name, err)
	}
	t.Cleanup(func() { _ = h.Client.Delete(ctx, widgets) })

	// A kind another definition serves.
	first := renamedDefinition(t, "static-website", "dup.example.com", "Thing", "things")
	createDefinition(t, platform, first)
	waitServed(t, first)

	cases := map[string]struct {
		reason              string
		group, kind, plural string
		want                string
		// crd is the CRD that must be unchanged.
		crd string
	}{
		"StratusBuckets": {
			reason: "Stratus's own CRD is never taken over.",
			group:  "storage.stratus.dev", kind: "Bucket", plural: "buckets",
			want: "group storage.stratus.dev is reserved for Stratus", crd: "buckets.storage.stratus.dev",
		},
		"AnotherProjectsCRD": {
			reason: "Nor another project's.",
			group:  "other.example.com", kind: "Widget", plural: "widgets",
			want: "the CustomResourceDefinition widgets.other.example.com exists and this definition did not create it", crd: "widgets.other.example.com",
		},
		"AnotherProjectsGroup": {
			reason: "A group another project serves is not a composite's.",
			group:  "other.example.com", kind: "Gadget", plural: "gadgets",
			want: "group other.example.com is served by the CustomResourceDefinition widgets.other.example.com, which no CompositeDefinition created", crd: "widgets.other.example.com",
		},
		"KubernetesGroup": {
			reason: "Nor Kubernetes' groups.",
			group:  "rbac.authorization.k8s.io", kind: "ClusterRoleBinding", plural: "clusterrolebindings",
			want: "group rbac.authorization.k8s.io is reserved for Kubernetes", crd: "",
		},
		"AnotherDefinitionsKind": {
			reason: "A kind another definition serves is refused, naming it.",
			group:  "dup.example.com", kind: "Thing", plural: "thingies",
			want: "kind Thing (things) of group dup.example.com is served by the CustomResourceDefinition things.dup.example.com of the CompositeDefinition things.dup.example.com", crd: "things.dup.example.com",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var before *apiextv1.CustomResourceDefinition
			if tc.crd != "" {
				before = &apiextv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: tc.crd}}
				if !exists(t, before) {
					t.Fatalf("no CRD %s", tc.crd)
				}
			}
			def := renamedDefinition(t, "static-website", tc.group, tc.kind, tc.plural)
			def.Name = strings.ToLower(name) + ".takeover.example.com"
			createDefinition(t, platform, def)
			refused := waitCondition(t, def, controller.ConditionValid, metav1.ConditionFalse, controller.ReasonAPIConflict)
			wantContains(t, tc.reason+" Valid message", refused.Message, tc.want)
			if c := meta.FindStatusCondition(def.Status.Conditions, controller.ConditionEstablished); c == nil || c.Status != metav1.ConditionFalse {
				t.Errorf("Established = %+v, want False", c)
			}
			if before == nil {
				noCRD(t, tc.plural+"."+tc.group)
				return
			}
			after := &apiextv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: tc.crd}}
			if !exists(t, after) {
				t.Fatalf("the CRD %s is gone", tc.crd)
			}
			if after.ResourceVersion != before.ResourceVersion || !equality.Semantic.DeepEqual(after.OwnerReferences, before.OwnerReferences) ||
				!equality.Semantic.DeepEqual(after.Spec, before.Spec) || !equality.Semantic.DeepEqual(after.ManagedFields, before.ManagedFields) {
				t.Errorf("%s\nthe CRD %s changed: resourceVersion %s → %s, owners %v → %v", tc.reason, tc.crd, before.ResourceVersion, after.ResourceVersion, before.OwnerReferences, after.OwnerReferences)
			}
		})
	}

	t.Run("WebhookRules", func(t *testing.T) {
		// The served definition gets its rule; none of the refused ones
		// sends its group's requests to the guardrails.
		var rules []string
		harness.Eventually(t, "a guardrail webhook rule for things.dup.example.com", func() error {
			rules = guardrailRules(t)
			if !slices.Contains(rules, "dup.example.com/things") {
				return fmt.Errorf("rules %v", rules)
			}
			return nil
		})
		for _, bad := range []string{"other.example.com/", "rbac.authorization.k8s.io/", "dup.example.com/thingies"} {
			if slices.ContainsFunc(rules, func(g string) bool { return strings.HasPrefix(g, bad) }) {
				t.Errorf("the guardrail webhook has a rule for %s: %v", bad, rules)
			}
		}
		if got := slices.DeleteFunc(slices.Clone(rules), func(g string) bool { return !strings.HasPrefix(g, "storage.stratus.dev/") }); !slices.Equal(got, []string{"storage.stratus.dev/*"}) {
			t.Errorf("rules for storage.stratus.dev: %v, want the generated one only", got)
		}
	})
}

// guardrailRules returns the rules of the guardrail webhook, each as
// group/resources.
func guardrailRules(t *testing.T) []string {
	t.Helper()
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := h.Client.Get(context.Background(), client.ObjectKey{Name: policysetup.DefaultWebhookConfiguration}, vwc); err != nil {
		t.Fatalf("read the webhook configuration: %v", err)
	}
	var rules []string
	for _, w := range vwc.Webhooks {
		if w.Name != policysetup.GuardrailWebhook {
			continue
		}
		for _, r := range w.Rules {
			for _, g := range r.APIGroups {
				rules = append(rules, g+"/"+strings.Join(r.Resources, ","))
			}
		}
	}
	return rules
}

// configMapComposite is a namespaced composite of one ConfigMap whose name
// and data come from the instance.
const configMapComposite = `
apiVersion: compositions.stratus.dev/v1alpha1
kind: CompositeDefinition
metadata: {name: notes.tenancy.example.com}
spec:
  group: tenancy.example.com
  names: {kind: Note, plural: notes}
  versions: [{name: v1alpha1, served: true, storage: true}]
  schema:
    spec:
      type: object
      properties:
        name: {type: string}
        text: {type: string}
        extra: {type: string}
  resources:
    - name: page
      readyWhen: has(self.data)
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${spec.name}
        data:
          text: ${spec.text}
          extra: ${spec.?extra}
`

// snapshot is what must not change of an object that is not taken over.
type snapshot struct {
	ResourceVersion string
	Labels          map[string]string
	Owners          []metav1.OwnerReference
	ManagedFields   []metav1.ManagedFieldsEntry
	Data            any
}

func snapshotOf(t *testing.T, obj client.Object) snapshot {
	t.Helper()
	if !exists(t, obj) {
		t.Fatalf("%s is gone", obj.GetName())
	}
	s := snapshot{ResourceVersion: obj.GetResourceVersion(), Labels: obj.GetLabels(), Owners: obj.GetOwnerReferences(), ManagedFields: obj.GetManagedFields()}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		s.Data = o.Data
	case *corev1.Secret:
		s.Data = o.Data
	}
	return s
}

// TestCompositeDoesNotTakeOverExistingObjects: a tenant names, as a
// composed resource, an object that exists and is not the composite's: the
// platform team's ConfigMap in the tenant's namespace, or one that carries
// the composite's labels without being its own. The composite reports it,
// and the object is left alone, also when the composite is deleted. A
// name of its own is composed, and a field the instance drops is removed.
func TestCompositeDoesNotTakeOverExistingObjects(t *testing.T) {
	ctx := context.Background()
	platform := platformMember(t, "platform-heidi")
	def := parseDefinition(t, configMapComposite)
	createDefinition(t, platform, def)
	waitServed(t, def)

	ns := h.Namespace(t)
	quota := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "quota", Labels: map[string]string{"owner": "platform"}}, Data: map[string]string{"limit": "10"}}
	mimic := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mimic", Labels: map[string]string{
		render.LabelComposite: "mimic", render.LabelResource: "page", render.LabelDefinition: def.Name,
	}}, Data: map[string]string{"text": "not the composite's"}}
	h.Create(t, quota)
	h.Create(t, mimic)
	wantQuota, wantMimic := snapshotOf(t, quota), snapshotOf(t, mimic)

	mallory := tenantOf(t, ns, "mallory", def.Spec.Group, def.Spec.Names.Plural)
	for _, target := range []*corev1.ConfigMap{quota, mimic} {
		note := instanceOf(def, ns, target.Name, map[string]any{"name": target.Name, "text": "taken"})
		if err := mallory.Create(ctx, note); err != nil {
			t.Fatalf("mallory creates Note %s: %v", note.GetName(), err)
		}
		msg := waitInstanceCondition(t, note, "Synced", "False", controller.ReasonComposedResourceConflict)
		wantContains(t, "Synced message", msg, fmt.Sprintf("ConfigMap %s/%s (page) exists and is not Note %s's: left alone", ns, target.Name, target.Name))
		waitInstanceCondition(t, note, "Ready", "False", controller.ReasonComposedResourceConflict)
		event := h.WaitEvent(t, note, "Note", "ComposedResourceConflict")
		wantContains(t, "event", event, fmt.Sprintf("ConfigMap %s/%s (page)", ns, target.Name))

		// Deleting the composite leaves the object alone too.
		if err := mallory.Delete(ctx, note); err != nil {
			t.Fatalf("mallory deletes Note %s: %v", note.GetName(), err)
		}
		waitGone(t, note)
	}
	if got := snapshotOf(t, quota); !equality.Semantic.DeepEqual(got, wantQuota) {
		t.Errorf("the platform team's ConfigMap changed:\n%+v\nwant\n%+v", got, wantQuota)
	}
	if got := snapshotOf(t, mimic); !equality.Semantic.DeepEqual(got, wantMimic) {
		t.Errorf("the look-alike ConfigMap changed:\n%+v\nwant\n%+v", got, wantMimic)
	}

	t.Run("OwnNameIsComposed", func(t *testing.T) {
		note := instanceOf(def, ns, "own", map[string]any{"name": "own-page", "text": "hello", "extra": "x"})
		if err := mallory.Create(ctx, note); err != nil {
			t.Fatalf("mallory creates Note own: %v", err)
		}
		waitCompositeReady(t, note)
		page := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "own-page"}}
		if !exists(t, page) {
			t.Fatal("no ConfigMap own-page")
		}
		if ref := metav1.GetControllerOf(page); ref == nil || ref.UID != note.GetUID() {
			t.Errorf("own-page controller = %+v, want the Note", ref)
		}
		// Created, and its fields owned as applied by the operator.
		var managers []string
		for _, m := range page.ManagedFields {
			managers = append(managers, m.Manager+"/"+string(m.Operation))
		}
		if want := []string{controller.FieldOwner + "/Apply"}; !slices.Equal(managers, want) {
			t.Errorf("own-page managers = %v, want %v", managers, want)
		}
		recorded, _, _ := unstructured.NestedSlice(note.Object, "status", render.StatusComposedResources)
		if len(recorded) != 1 || recorded[0].(map[string]any)["uid"] != string(page.UID) {
			t.Errorf("status.composedResources = %v, want own-page (%s)", recorded, page.UID)
		}

		// The instance drops spec.extra: the key is removed.
		t.Cleanup(func() {
			_ = mallory.Delete(ctx, note)
			waitGone(t, note)
		})
		harness.Eventually(t, "drop spec.extra", func() error {
			if err := mallory.Get(ctx, client.ObjectKeyFromObject(note), note); err != nil {
				return err
			}
			unstructured.RemoveNestedField(note.Object, "spec", "extra")
			return mallory.Update(ctx, note)
		})
		h.WaitFor(t, page, "own-page without extra", func() error {
			if _, ok := page.Data["extra"]; ok {
				return fmt.Errorf("data = %v", page.Data)
			}
			return nil
		})
	})
}

// TestClusterCompositeAcceptsOnlyWhatItCreated: a tenant forges, in its
// namespace, the Secret a cluster-scoped composite of the platform team
// would create there, with the composite's labels and a controller
// reference to it. When the composite comes to compose the Secret, it
// reports the forgery and leaves it alone; once the tenant deletes it, the
// composite creates its own.
func TestClusterCompositeAcceptsOnlyWhatItCreated(t *testing.T) {
	ctx := context.Background()
	platform := platformMember(t, "platform-ivan")
	def := parseDefinition(t, `
apiVersion: compositions.stratus.dev/v1alpha1
kind: CompositeDefinition
metadata: {name: tenanttokens.cluster.example.com}
spec:
  group: cluster.example.com
  names: {kind: TenantToken, plural: tenanttokens}
  scope: Cluster
  versions: [{name: v1alpha1, served: true, storage: true}]
  schema:
    spec:
      type: object
      properties:
        namespace: {type: string}
        enabled: {type: boolean}
  resources:
    - name: token
      includeWhen: ${spec.enabled}
      readyWhen: has(self.data)
      template:
        apiVersion: v1
        kind: Secret
        metadata:
          namespace: ${spec.namespace}
          name: ${metadata.name + '-token'}
        data:
          token: cGxhdGZvcm0=
`)
	createDefinition(t, platform, def)
	waitServed(t, def)
	ns := h.Namespace(t)
	tenant := h.Tenant(t, ns, "mallory")

	token := instanceOf(def, "", "acme", map[string]any{"namespace": ns, "enabled": false})
	h.Create(t, token)
	t.Cleanup(func() { _ = h.Client.Delete(ctx, token) })
	waitCompositeReady(t, token)

	// The tenant forges the Secret the composite would create.
	forged := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-token",
			Labels: map[string]string{render.LabelComposite: "acme", render.LabelResource: "token", render.LabelDefinition: def.Name},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: token.GetAPIVersion(), Kind: token.GetKind(), Name: token.GetName(), UID: token.GetUID(), Controller: ptr.To(true),
			}},
		},
		Data: map[string][]byte{"token": []byte("mallory's")},
	}
	if err := tenant.Create(ctx, forged); err != nil {
		t.Fatalf("mallory forges the Secret: %v", err)
	}
	want := snapshotOf(t, forged)

	harness.Eventually(t, "enable the token", func() error {
		if err := h.Client.Get(ctx, client.ObjectKeyFromObject(token), token); err != nil {
			return err
		}
		if err := unstructured.SetNestedField(token.Object, true, "spec", "enabled"); err != nil {
			return err
		}
		return h.Client.Update(ctx, token)
	})
	msg := waitInstanceCondition(t, token, "Synced", "False", controller.ReasonComposedResourceConflict)
	wantContains(t, "Synced message", msg, fmt.Sprintf("Secret %s/acme-token (token) exists and is not TenantToken acme's: left alone", ns))
	if got := snapshotOf(t, forged); !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("the forged Secret changed:\n%+v\nwant\n%+v", got, want)
	}

	// Once the forgery is gone, the composite creates its own.
	if err := tenant.Delete(ctx, forged); err != nil {
		t.Fatalf("mallory deletes the Secret: %v", err)
	}
	own := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-token"}}
	harness.Eventually(t, "the composite's own acme-token", func() error {
		if !exists(t, own) || own.UID == forged.UID {
			return fmt.Errorf("not created yet")
		}
		return nil
	})
	waitCompositeReady(t, token)
	if got := string(own.Data["token"]); got != "platform" {
		t.Errorf("token = %q, want platform", got)
	}
	recorded, _, _ := unstructured.NestedSlice(token.Object, "status", render.StatusComposedResources)
	if len(recorded) != 1 || recorded[0].(map[string]any)["uid"] != string(own.UID) {
		t.Errorf("status.composedResources = %v, want acme-token (%s)", recorded, own.UID)
	}

	if err := h.Client.Delete(ctx, token); err != nil {
		t.Fatal(err)
	}
	waitGone(t, token)
	waitGone(t, own)
}

// TestTemplatedLabels: a definition may template metadata.labels, so that
// every Bucket it composes carries the owner label the platform team's
// guardrails require; a rendered value the API server would refuse is
// reported on the instance, naming the path.
func TestTemplatedLabels(t *testing.T) {
	ctx := context.Background()
	platform := platformMember(t, "platform-judy")
	def := parseDefinition(t, `
apiVersion: compositions.stratus.dev/v1alpha1
kind: CompositeDefinition
metadata: {name: ownedbuckets.labels.example.com}
spec:
  group: labels.example.com
  names: {kind: OwnedBucket, plural: ownedbuckets}
  versions: [{name: v1alpha1, served: true, storage: true}]
  schema:
    spec:
      type: object
      required: [owner]
      properties:
        owner: {type: string}
  resources:
    - name: bucket
      template:
        apiVersion: storage.stratus.dev/v1alpha1
        kind: Bucket
        metadata:
          labels:
            owner: ${spec.owner}
            cost-center: cc-${spec.owner}
          annotations:
            labels.example.com/owner: "owned by ${spec.owner}"
        spec:
          providerConfigRef: {kind: ClusterProviderConfig, name: local-aws}
          publicAccess: Blocked
`)
	createDefinition(t, platform, def)
	waitServed(t, def)
	ns := h.Namespace(t)
	tenant := tenantOf(t, ns, "alice", def.Spec.Group, def.Spec.Names.Plural)

	good := instanceOf(def, ns, "logs", map[string]any{"owner": "team-a"})
	if err := tenant.Create(ctx, good); err != nil {
		t.Fatalf("create OwnedBucket: %v", err)
	}
	bucket := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "logs-bucket"}}
	h.WaitFor(t, bucket, "logs-bucket labeled", func() error {
		if bucket.Labels["owner"] != "team-a" || bucket.Labels["cost-center"] != "cc-team-a" || bucket.Annotations["labels.example.com/owner"] != "owned by team-a" {
			return fmt.Errorf("labels %v, annotations %v", bucket.Labels, bucket.Annotations)
		}
		return nil
	})

	bad := instanceOf(def, ns, "bad", map[string]any{"owner": "Team A!"})
	if err := tenant.Create(ctx, bad); err != nil {
		t.Fatalf("create OwnedBucket: %v", err)
	}
	msg := waitInstanceCondition(t, bad, "Synced", "False", controller.ReasonRenderFailed)
	wantContains(t, "Synced message", msg, `resources[0] (bucket) template .metadata.labels.cost-center: "cc-Team A!" is not a valid label value`)
	if exists(t, &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad-bucket"}}) {
		t.Error("bad-bucket was composed")
	}

	for _, u := range []*unstructured.Unstructured{good, bad} {
		if err := tenant.Delete(ctx, u); err != nil {
			t.Fatal(err)
		}
		waitGone(t, u)
	}
	h.WaitGone(t, bucket)
}
