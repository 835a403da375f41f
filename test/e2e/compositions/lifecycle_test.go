package compositions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/controller"
	"github.com/stratus-operator/stratus/compositions/render"
	"github.com/stratus-operator/stratus/test/harness"
)

// renamedDefinition is an example's definition serving another group and
// kind, so that a test may change or delete it without affecting others.
func renamedDefinition(t *testing.T, example, group, kind, plural string) *v1alpha1.CompositeDefinition {
	t.Helper()
	def := loadDefinition(t, example)
	def.Name = plural + "." + group
	def.Spec.Group = group
	def.Spec.Names.Kind = kind
	def.Spec.Names.Plural = plural
	def.Spec.Names.ShortNames = nil
	return def
}

// renamedSite is the static-website instance as a kind of group, in ns,
// with logging off: one bucket.
func renamedSite(t *testing.T, def *v1alpha1.CompositeDefinition, ns string) *unstructured.Unstructured {
	t.Helper()
	u := loadInstance(t, "static-website", ns)
	u.SetAPIVersion(def.Spec.Group + "/" + render.StorageVersion(def))
	u.SetKind(def.Spec.Names.Kind)
	if err := unstructured.SetNestedField(u.Object, false, "spec", "logging", "enabled"); err != nil {
		t.Fatal(err)
	}
	return u
}

// crdOf returns the CRD of def, read as unstructured.
func crdOf(t *testing.T, def *v1alpha1.CompositeDefinition) *unstructured.Unstructured {
	t.Helper()
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(crdGVK)
	crd.SetName(def.Spec.Names.Plural + "." + def.Spec.Group)
	if !exists(t, crd) {
		t.Fatalf("no CRD %s", crd.GetName())
	}
	return crd
}

// crdSpecSchema returns the required fields and property names of the spec
// of a CRD's first version.
func crdSpecSchema(crd *unstructured.Unstructured) (required, properties []string) {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) == 0 {
		return nil, nil
	}
	v, _ := versions[0].(map[string]any)
	required, _, _ = unstructured.NestedStringSlice(v, "schema", "openAPIV3Schema", "properties", "spec", "required")
	props, _, _ := unstructured.NestedMap(v, "schema", "openAPIV3Schema", "properties", "spec", "properties")
	for k := range props {
		properties = append(properties, k)
	}
	slices.Sort(properties)
	return required, properties
}

// updateSpecSchema changes the spec schema of def with change.
func updateSpecSchema(t *testing.T, def *v1alpha1.CompositeDefinition, change func(schema map[string]any) error) {
	t.Helper()
	harness.Eventually(t, "change the schema of "+def.Name, func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(def), def); err != nil {
			return err
		}
		var schema map[string]any
		if err := json.Unmarshal(def.Spec.Schema.Spec.Raw, &schema); err != nil {
			return err
		}
		if err := change(schema); err != nil {
			return err
		}
		raw, err := json.Marshal(schema)
		if err != nil {
			return err
		}
		def.Spec.Schema.Spec.Raw = raw
		def.Spec.Schema.Spec.Object = nil
		return h.Client.Update(context.Background(), def)
	})
}

// waitCondition waits until def has the condition typ with status and
// reason for its generation, and returns it.
func waitCondition(t *testing.T, def *v1alpha1.CompositeDefinition, typ string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var got *metav1.Condition
	harness.Eventually(t, fmt.Sprintf("%s %s=%s (%s)", def.Name, typ, status, reason), func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(def), def); err != nil {
			return err
		}
		got = meta.FindStatusCondition(def.Status.Conditions, typ)
		if got == nil || got.Status != status || got.Reason != reason || got.ObservedGeneration != def.Generation {
			return fmt.Errorf("%s is %+v at generation %d", typ, got, def.Generation)
		}
		return nil
	})
	return got
}

// deleteAll deletes the instance, then the definition, and waits until
// both and the CRD are gone.
func deleteAll(t *testing.T, def *v1alpha1.CompositeDefinition, instance *unstructured.Unstructured) {
	t.Helper()
	crd := crdOf(t, def)
	if instance != nil {
		if err := h.Client.Delete(context.Background(), instance); client.IgnoreNotFound(err) != nil {
			t.Fatalf("delete %s: %v", instance.GetName(), err)
		}
		waitGone(t, instance)
	}
	if err := h.Client.Delete(context.Background(), def); client.IgnoreNotFound(err) != nil {
		t.Fatalf("delete definition %s: %v", def.Name, err)
	}
	waitGone(t, def)
	waitGone(t, crd)
}

// TestBreakingChangeRefused: a new required field without a default would
// break an existing instance, so the definition is refused and the
// previous generation stays served, the CRD unchanged; once the field is
// optional, the change rolls out.
func TestBreakingChangeRefused(t *testing.T) {
	def := renamedDefinition(t, "static-website", "breaking.example.com", "BreakSite", "breaksites")
	applyDefinition(t, def)
	waitServed(t, def)
	if !slices.Contains(def.Finalizers, controller.DefinitionFinalizer) {
		t.Errorf("finalizers = %v, want %s among them", def.Finalizers, controller.DefinitionFinalizer)
	}

	ns := h.Namespace(t)
	site := renamedSite(t, def, ns)
	if err := h.Client.Create(context.Background(), site); err != nil {
		t.Fatalf("create BreakSite: %v", err)
	}
	content := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs-content"}}
	h.WaitReady(t, content)
	waitCompositeReady(t, site)
	wantRequired, wantProps := crdSpecSchema(crdOf(t, def))

	updateSpecSchema(t, def, func(schema map[string]any) error {
		if err := unstructured.SetNestedField(schema, map[string]any{"type": "string"}, "properties", "owner"); err != nil {
			return err
		}
		return unstructured.SetNestedStringSlice(schema, []string{"domain", "owner"}, "required")
	})
	refused := waitCondition(t, def, "Valid", metav1.ConditionFalse, controller.ReasonBreakingChange)
	for _, want := range []string{"would break 1 instance", ns + "/docs", "spec.owner"} {
		if !strings.Contains(refused.Message, want) {
			t.Errorf("Valid message = %q, want it to contain %q", refused.Message, want)
		}
	}
	if c := meta.FindStatusCondition(def.Status.Conditions, "Established"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Established = %+v, want True: the previous generation is still served", c)
	}
	required, props := crdSpecSchema(crdOf(t, def))
	if !slices.Equal(required, wantRequired) || !slices.Equal(props, wantProps) {
		t.Errorf("CRD spec schema: required %v, properties %v; want it unchanged: required %v, properties %v", required, props, wantRequired, wantProps)
	}

	t.Run("InstanceKeepsWorking", func(t *testing.T) {
		// A change of the instance is composed with the previous
		// generation, which does not require spec.owner.
		harness.Eventually(t, "change the domain", func() error {
			if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(site), site); err != nil {
				return err
			}
			if err := unstructured.SetNestedField(site.Object, "help.example.com", "spec", "domain"); err != nil {
				return err
			}
			return h.Client.Update(context.Background(), site)
		})
		h.WaitFor(t, content, "content bucket relabeled", func() error {
			if got := content.Spec.Labels["site"]; got != "help-example-com" {
				return fmt.Errorf("label site is %q", got)
			}
			return nil
		})
		harness.Eventually(t, "BreakSite synced and Ready", func() error {
			if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(site), site); err != nil {
				return err
			}
			if got, _, _ := unstructured.NestedInt64(site.Object, "status", "observedGeneration"); got != site.GetGeneration() {
				return fmt.Errorf("observedGeneration %d, generation %d", got, site.GetGeneration())
			}
			if err := conditionTrue(site, "Synced"); err != nil {
				return err
			}
			return conditionTrue(site, "Ready")
		})
	})

	t.Run("CompatibleChangeRollsOut", func(t *testing.T) {
		updateSpecSchema(t, def, func(schema map[string]any) error {
			return unstructured.SetNestedStringSlice(schema, []string{"domain"}, "required")
		})
		waitCondition(t, def, "Valid", metav1.ConditionTrue, controller.ReasonValidDefinition)
		waitServed(t, def)
		harness.Eventually(t, "CRD has spec.owner", func() error {
			required, props := crdSpecSchema(crdOf(t, def))
			if !slices.Contains(props, "owner") || slices.Contains(required, "owner") {
				return fmt.Errorf("required %v, properties %v", required, props)
			}
			return nil
		})
		waitCompositeReady(t, site)
	})

	t.Run("Cleanup", func(t *testing.T) {
		deleteAll(t, def, site)
		waitGone(t, content)
	})
}

// TestServedVersions: a definition with two versions serves its instances
// at both; one created at the version that is not the storage version is
// composed and becomes Ready.
func TestServedVersions(t *testing.T) {
	def := renamedDefinition(t, "static-website", "versions.example.com", "VerSite", "versites")
	def.Spec.Versions = []v1alpha1.CompositeVersion{
		{Name: "v1alpha1", Served: true},
		{Name: "v1beta1", Served: true, Storage: true},
	}
	applyDefinition(t, def)
	waitServed(t, def)
	versions, _, _ := unstructured.NestedSlice(crdOf(t, def).Object, "spec", "versions")
	var served []string
	for _, v := range versions {
		v, _ := v.(map[string]any)
		if v["served"] == true {
			served = append(served, fmt.Sprintf("%v (storage %v)", v["name"], v["storage"]))
		}
	}
	if want := []string{"v1alpha1 (storage false)", "v1beta1 (storage true)"}; !slices.Equal(served, want) {
		t.Errorf("CRD served versions = %v, want %v", served, want)
	}

	ns := h.Namespace(t)
	site := renamedSite(t, def, ns)
	site.SetAPIVersion(def.Spec.Group + "/v1alpha1")
	if err := h.Client.Create(context.Background(), site); err != nil {
		t.Fatalf("create VerSite at v1alpha1: %v", err)
	}
	content := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs-content"}}
	h.WaitReady(t, content)
	waitCompositeReady(t, site)

	deleteAll(t, def, site)
	waitGone(t, content)
}

// TestDeleteDefinitionWaitsForInstances: a deleted definition stays, and
// says why, while an instance of its kind exists; once the instance is
// deleted, the definition and its CRD are gone.
func TestDeleteDefinitionWaitsForInstances(t *testing.T) {
	def := renamedDefinition(t, "static-website", "deleting.example.com", "KeepSite", "keepsites")
	applyDefinition(t, def)
	waitServed(t, def)

	ns := h.Namespace(t)
	site := renamedSite(t, def, ns)
	if err := h.Client.Create(context.Background(), site); err != nil {
		t.Fatalf("create KeepSite: %v", err)
	}
	content := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs-content"}}
	h.WaitReady(t, content)
	waitCompositeReady(t, site)

	if err := h.Client.Delete(context.Background(), def); err != nil {
		t.Fatalf("delete definition: %v", err)
	}
	waiting := waitCondition(t, def, controller.ConditionDeleting, metav1.ConditionTrue, controller.ReasonInstancesExist)
	if want := "1 instance still exists; delete it first"; waiting.Message != want {
		t.Errorf("Deleting message = %q, want %q", waiting.Message, want)
	}
	if def.DeletionTimestamp == nil || !slices.Contains(def.Finalizers, controller.DefinitionFinalizer) {
		t.Errorf("definition: deletionTimestamp %v, finalizers %v; want deleted and kept by %s", def.DeletionTimestamp, def.Finalizers, controller.DefinitionFinalizer)
	}
	if crd := crdOf(t, def); crd.GetDeletionTimestamp() != nil {
		t.Errorf("the CRD is being deleted while an instance exists")
	}
	if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(site), site); err != nil {
		t.Fatalf("get KeepSite: %v", err)
	}
	if err := conditionTrue(site, "Ready"); err != nil {
		t.Errorf("KeepSite: %v", err)
	}

	crd := crdOf(t, def)
	if err := h.Client.Delete(context.Background(), site); err != nil {
		t.Fatalf("delete KeepSite: %v", err)
	}
	waitGone(t, site)
	waitGone(t, content)
	waitGone(t, def)
	waitGone(t, crd)
	// The kind is no longer served.
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion(site.GetAPIVersion())
	list.SetKind(site.GetKind() + "List")
	harness.Eventually(t, "KeepSite no longer served", func() error {
		err := h.Client.List(context.Background(), list)
		if err == nil {
			return fmt.Errorf("KeepSites can still be listed")
		}
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}
