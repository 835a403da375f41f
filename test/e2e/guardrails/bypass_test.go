package guardrails

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/policy/admission"
	"github.com/stratus-operator/stratus/policy/audit"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/test/harness"
)

// platformMember returns a client acting as user, who may write Guardrails
// (a ClusterRole bound to the user) and nothing else: a platform-team
// member, not a cluster admin.
func platformMember(t *testing.T, user string) client.Client {
	t.Helper()
	name := "guardrail-author-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 60 {
		name = name[:60]
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"policy.stratus.dev"}, Resources: []string{"guardrails"}, Verbs: []string{"*"}},
			{APIGroups: []string{"policy.stratus.dev"}, Resources: []string{"guardrails/status"}, Verbs: []string{"get"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := h.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("grant %s the Guardrails: %v", user, err)
		}
		t.Cleanup(func() { _ = h.Client.Delete(context.Background(), o) })
	}
	cfg := rest.CopyConfig(h.Env.ControlPlane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: h.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enforceAs creates g as the user c and waits until it is enforced.
func enforceAs(t *testing.T, c client.Client, g *policyv1alpha1.Guardrail) {
	t.Helper()
	if err := c.Create(context.Background(), g); err != nil {
		t.Fatalf("create Guardrail %s as a platform-team member: %v", g.Name, err)
	}
	t.Cleanup(func() { _ = h.Client.Delete(context.Background(), g) })
	waitEnforced(t, g)
}

// patchAs merge-patches the Bucket as the user c, the way `kubectl patch
// --type merge` does.
func patchAs(c client.Client, b *storagev1alpha1.Bucket, patch string) error {
	return c.Patch(context.Background(), b.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch)))
}

// s3Objects lists the keys of a bucket; it fails the test when the bucket
// is gone.
func s3Objects(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := s3c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			t.Fatalf("list bucket %s: %s (the bucket is gone?)", bucket, ae.ErrorCode())
		}
		t.Fatalf("list bucket %s: %v", bucket, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// refused checks that err is the webhook's denial containing each of want.
func refused(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s was admitted", what)
	}
	t.Logf("%s: %v", what, err)
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: %v, want Forbidden", what, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: the denial lacks %q", what, w)
		}
	}
}

// Issue 14, first half. A deny Guardrail forbids forceDestroy on production
// Buckets. The tenant deletes a production Bucket holding objects (blocked:
// not empty), then tries to set forceDestroy on it, alone, with the env
// label removed, and after removing or changing the label first. Each is
// refused; the Bucket keeps its spec and labels, and S3 keeps the bucket
// and its object. Meanwhile the operator's own writes go through: the
// DeletionBlocked status, and at the end, once the object is gone from S3,
// the finalizer's removal, although the Bucket breaks another deny Guardrail.
func TestForceDestroyOnDeletingBucketRefused(t *testing.T) {
	ns := h.Namespace(t)
	tenant := h.Tenant(t, ns, "alice-"+ns)
	platform := platformMember(t, "pat-"+ns)

	b := bucket(ns, "data", func(b *storagev1alpha1.Bucket) { b.Labels = map[string]string{"env": "production"} })
	if err := tenant.Create(context.Background(), b); err != nil {
		t.Fatalf("the tenant creates a production Bucket: %v", err)
	}
	h.WaitReady(t, b)
	name := b.Annotations[stratusv1alpha1.AnnotationExternalName]
	if _, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String("precious.txt"), Body: strings.NewReader("data")}); err != nil {
		t.Fatal(err)
	}

	enforceAs(t, platform, guardrail(t, "no-force-destroy-"+ns, "bucket-force-destroy-production", ns, policyv1alpha1.EnforcementDeny, nil))
	// A second deny Guardrail the Bucket already breaks (created before
	// it): its finalizer must still come off at the end.
	enforceAs(t, platform, guardrail(t, "versioning-"+ns, "bucket-versioning-production", ns, policyv1alpha1.EnforcementDeny, nil))

	if err := tenant.Delete(context.Background(), b); err != nil {
		t.Fatalf("the tenant deletes the Bucket: %v", err)
	}
	h.WaitFor(t, b, "DeletionBlocked", func() error {
		return harness.ConditionIs(b, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonDeletionBlocked)
	})
	t.Logf("blocked: %s", harness.ConditionMessage(b, stratusv1alpha1.ConditionReady))

	guard := fmt.Sprintf("[no-force-destroy-%s] Bucket %s/data: ", ns, ns)
	refused(t, "forceDestroy on the deleting Bucket", patchAs(tenant, b, `{"spec":{"forceDestroy":true}}`),
		guard+"spec.forceDestroy must not be true for env=production (got true, allowed false)")
	refused(t, "forceDestroy with the env label removed", patchAs(tenant, b, `{"metadata":{"labels":{"env":null}},"spec":{"forceDestroy":true}}`),
		guard+"spec.forceDestroy must not be true", guard+"metadata.labels.env must stay production")
	refused(t, "removing the env label first", patchAs(tenant, b, `{"metadata":{"labels":{"env":null}}}`),
		guard+"metadata.labels.env must stay production: it turns this guardrail on (got unset, allowed production)")
	refused(t, "changing the env label first", patchAs(tenant, b, `{"metadata":{"labels":{"env":"staging"}}}`),
		"(got staging, allowed production)")

	// Nothing changed: the Bucket, and the bucket and its object in S3,
	// through a few reconciles.
	time.Sleep(2 * harness.PollInterval)
	got := &storagev1alpha1.Bucket{}
	if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(b), got); err != nil {
		t.Fatalf("the Bucket is gone: %v", err)
	}
	if got.Spec.ForceDestroy || got.Labels["env"] != "production" || got.DeletionTimestamp == nil {
		t.Errorf("the Bucket changed: forceDestroy %v, labels %v, deleting %v", got.Spec.ForceDestroy, got.Labels, got.DeletionTimestamp != nil)
	}
	if keys := s3Objects(t, name); len(keys) != 1 || keys[0] != "precious.txt" {
		t.Errorf("S3 bucket %s holds %q, want precious.txt", name, keys)
	}

	// The operator's status writes never reach the webhook: it matches
	// no subresource.
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := h.Client.Get(context.Background(), client.ObjectKey{Name: policysetup.DefaultWebhookConfiguration}, vwc); err != nil {
		t.Fatal(err)
	}
	for _, w := range vwc.Webhooks {
		for _, r := range w.Rules {
			for _, res := range r.Resources {
				if w.Name == policysetup.GuardrailWebhook && strings.Contains(res, "/") {
					t.Errorf("the guardrail webhook matches the subresource %s", res)
				}
			}
		}
	}

	// Emptied behind the operator's back, the bucket is deleted and the
	// finalizer comes off, both Guardrails still enforced.
	if _, err := s3c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(name), Key: aws.String("precious.txt")}); err != nil {
		t.Fatal(err)
	}
	h.WaitGone(t, b)
	if s3BucketExists(name) {
		t.Errorf("the emptied bucket %s is still in S3", name)
	}
}

// Leaving production by deleting a Bucket (deletionPolicy Orphan) and
// creating it again without the env label: in a namespace the platform team
// labelled env=production, the new Bucket is still production, and the
// tenant cannot change the namespace's labels.
func TestProductionNamespaceCannotBeLeft(t *testing.T) {
	ns := h.Namespace(t, map[string]string{"env": "production"})
	tenant := h.Tenant(t, ns, "alice-"+ns)
	platform := platformMember(t, "pat-"+ns)
	enforceAs(t, platform, guardrail(t, "no-force-destroy-"+ns, "bucket-force-destroy-production", ns, policyv1alpha1.EnforcementDeny, nil))

	b := bucket(ns, "data", func(b *storagev1alpha1.Bucket) { b.Spec.ForceDestroy = true })
	refused(t, "an unlabelled Bucket with forceDestroy in a production namespace", tenant.Create(context.Background(), b),
		fmt.Sprintf("[no-force-destroy-%s] Bucket %s/data: spec.forceDestroy must not be true for env=production", ns, ns))
	if s3BucketExists(bucketName(b)) {
		t.Errorf("the refused bucket %s exists in S3", bucketName(b))
	}

	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	err := tenant.Patch(context.Background(), nsObj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"env":"dev"}}}`)))
	if !apierrors.IsForbidden(err) {
		t.Errorf("the tenant relabelling its namespace: %v, want Forbidden by RBAC", err)
	}
}

// listener counts the requests that reach it.
type listener struct {
	*httptest.Server
	hits atomic.Int64
}

func newListener(t *testing.T) *listener {
	l := &listener{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.hits.Add(1)
		_, _ = io.WriteString(w, `{"AccessKeyId": "stolen"}`)
	}))
	t.Cleanup(l.Close)
	return l
}

// Issue 14, second half. A platform-team member applies Guardrails that
// would reach outside the evaluation: each is refused when applied, naming
// the built-in function and where it is, nothing is loaded, and the test's
// HTTP listener (standing in for the instance metadata service) gets no
// request, even after an audit would have run.
func TestNetworkGuardrailsRefused(t *testing.T) {
	ns := h.Namespace(t)
	platform := platformMember(t, "pat-"+ns)
	l := newListener(t)
	// A Bucket for the audit to judge, had anything been loaded.
	b := bucket(ns, "some")
	h.Create(t, b)

	for _, tc := range []struct {
		name, body, builtin, where string
	}{
		{"http-send", fmt.Sprintf(`r := http.send({"method": "GET", "url": %q})`, l.URL+"/latest/meta-data/iam/security-credentials/"), "http.send", `"line 5, column 7"`},
		{"http-send-brackets", fmt.Sprintf(`r := http["send"]({"method": "GET", "url": %q})`, l.URL), "http.send", `"line 5, column 7"`},
		{"http-send-with", fmt.Sprintf(`r := object.get({"method": "GET", "url": %q}, "x", 1) with object.get as http.send`, l.URL), "http.send", `"line 5, column`},
		{"runtime-env", `r := opa.runtime().env`, "opa.runtime", `"line 5, column 7"`},
		{"dns", `r := net.lookup_ip_addr("metadata.google.internal")`, "net.lookup_ip_addr", `"line 5, column 7"`},
		{"schema-ref", fmt.Sprintf(`r := json.match_schema({}, {"$ref": %q})`, l.URL+"/schema.json"), "json.match_schema", `"line 5, column 7"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &policyv1alpha1.Guardrail{
				ObjectMeta: metav1.ObjectMeta{Name: tc.name + "-" + ns},
				Spec: policyv1alpha1.GuardrailSpec{
					Rego: "package exfil\n\nviolation contains {\"msg\": sprintf(\"%v\", [r])} if {\n\tinput.object.kind == \"Bucket\"\n\t" + tc.body + "\n}\n",
					Match: policyv1alpha1.Match{
						Kinds:      []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}},
						Namespaces: []string{ns},
					},
				},
			}
			err := platform.Create(context.Background(), g)
			if err == nil {
				_ = h.Client.Delete(context.Background(), g)
				t.Fatalf("a Guardrail calling %s was admitted", tc.builtin)
			}
			t.Logf("refusal: %v", err)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.rego") || !strings.Contains(err.Error(), tc.where) ||
				!strings.Contains(err.Error(), "guardrail_sandbox_error: "+tc.builtin+" is not allowed in a guardrail") {
				t.Errorf("the refusal is %v, want Invalid naming spec.rego, %s and %s", err, tc.where, tc.builtin)
			}
			if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(g), &policyv1alpha1.Guardrail{}); !apierrors.IsNotFound(err) {
				t.Errorf("the refused Guardrail exists: %v", err)
			}
			if _, loaded := h.Guardrails.Get(g.Name); loaded {
				t.Error("the refused Guardrail was loaded")
			}
		})
	}
	// An audit runs every AuditInterval and within a second of a change.
	time.Sleep(harness.AuditInterval + 2*time.Second)
	if n := l.hits.Load(); n != 0 {
		t.Errorf("the listener got %d requests", n)
	}
}

// A Guardrail that loops (a comprehension of a million pairs) is accepted:
// its Rego is valid. At admission it is stopped at its step limit, within
// the request's time, and the request gets the failure policy, naming it
// and the limit, while another Guardrail still denies what it must; in the
// audit it is reported on its own status while the other's audit lists its
// violation; and each evaluation that failed is an Event on it.
func TestRunawayGuardrailIsolated(t *testing.T) {
	ns := h.Namespace(t)
	tenant := h.Tenant(t, ns, "alice-"+ns)
	platform := platformMember(t, "pat-"+ns)
	open := bucket(ns, "open", public)
	h.Create(t, open) // before the Guardrails
	h.WaitReady(t, open)

	loop := &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: "loop-" + ns},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego: "package loop\n\nviolation contains {\"msg\": \"never\"} if {\n\tcount([[i, j] | some i in numbers.range(1, 1000); some j in numbers.range(1, 1000)]) < 0\n}\n",
			Match: policyv1alpha1.Match{
				Kinds:      []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}},
				Namespaces: []string{ns},
			},
		},
	}
	enforceAs(t, platform, loop)
	pub := guardrail(t, "public-"+ns, "buckets-not-public", ns, policyv1alpha1.EnforcementDeny, nil)
	enforceAs(t, platform, pub)

	start := time.Now()
	err := tenant.Create(context.Background(), bucket(ns, "private"))
	took := time.Since(start)
	refused(t, "a Bucket judged by a looping Guardrail", err,
		"guardrails could not judge this request (failurePolicy Fail)", fmt.Sprintf(`guardrail "loop-%s" exceeded its limit of 100000 evaluation steps`, ns))
	t.Logf("the request was answered in %v", took)
	if took > 3*time.Second {
		t.Errorf("the request took %v", took)
	}
	refused(t, "a public Bucket", tenant.Create(context.Background(), bucket(ns, "other", public)),
		fmt.Sprintf("[public-%s] Bucket %s/other: spec.publicAccess must be Blocked", ns, ns))

	h.WaitFor(t, loop, "the audit reports the loop", func() error {
		c := meta.FindStatusCondition(loop.Status.Conditions, audit.ConditionAudited)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != audit.ReasonLimitExceeded || !strings.Contains(c.Message, "exceeded its limit of 100000 evaluation steps") {
			return fmt.Errorf("Audited is %+v", c)
		}
		return nil
	})
	h.WaitFor(t, pub, "the audit lists the open Bucket", func() error {
		c := meta.FindStatusCondition(pub.Status.Conditions, audit.ConditionAudited)
		if c == nil || c.Status != metav1.ConditionTrue || pub.Status.TotalViolations != 1 || pub.Status.Violations[0].Name != "open" {
			return fmt.Errorf("Audited %+v, violations %+v", c, pub.Status.Violations)
		}
		return nil
	})
	note := h.WaitEvent(t, loop, "Guardrail", admission.ReasonEvaluationFailed)
	if !strings.Contains(note, "exceeded its limit") || !strings.Contains(note, "denied: failurePolicy Fail") {
		t.Errorf("the Event says %q", note)
	}
	if c := meta.FindStatusCondition(loop.Status.Conditions, "Compiled"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("the audit's status write lost the Compiled condition: %+v", loop.Status.Conditions)
	}
	// Deleting is not judged by these Guardrails, and the finalizer comes
	// off although one of them fails on every update.
	h.Delete(t, open)
	h.WaitGone(t, open)
}
