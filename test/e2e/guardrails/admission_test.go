package guardrails

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/policy/admission"
)

// A public bucket is denied with a message naming the guardrail, the
// object, the field and the fix, and nothing is created anywhere; a
// private one is admitted and becomes Ready.
func TestPublicBucketDenied(t *testing.T) {
	ns := h.Namespace(t)
	enforce(t, guardrail(t, "deny-public-"+ns, "buckets-not-public", ns, policyv1alpha1.EnforcementDeny, nil))

	b := bucket(ns, "site", public)
	err := h.Client.Create(context.Background(), b)
	if err == nil {
		t.Fatal("a public bucket was admitted")
	}
	t.Logf("denial: %v", err)
	if !apierrors.IsForbidden(err) {
		t.Errorf("the denial is %v, want Forbidden", err)
	}
	want := fmt.Sprintf("[deny-public-%s] Bucket %s/site: spec.publicAccess must be Blocked", ns, ns)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("the denial says %q, want it to contain %q", err, want)
	}
	if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(b), &storagev1alpha1.Bucket{}); !apierrors.IsNotFound(err) {
		t.Errorf("the denied Bucket exists in the API server: %v", err)
	}
	if s3BucketExists(bucketName(b)) {
		t.Errorf("the denied bucket %s exists in S3", bucketName(b))
	}

	ok := bucket(ns, "private")
	h.Create(t, ok)
	h.WaitReady(t, ok)

	// Making the admitted bucket public is denied too.
	err = h.Client.Get(context.Background(), client.ObjectKeyFromObject(ok), ok)
	if err == nil {
		ok.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed
		err = h.Client.Update(context.Background(), ok)
	}
	if err == nil || !strings.Contains(err.Error(), "spec.publicAccess must be Blocked") {
		t.Errorf("making a bucket public: got %v, want the guardrail's denial", err)
	}
	h.Delete(t, ok)
}

// warn admits the bucket, and kubectl (any client) gets the warning.
func TestWarnAdmitsWithWarning(t *testing.T) {
	ns := h.Namespace(t)
	enforce(t, guardrail(t, "warn-labels-"+ns, "required-labels", ns, policyv1alpha1.EnforcementWarn, map[string]any{"labels": []string{"owner"}}))

	wc := newWarningClient(t)
	b := bucket(ns, "unlabeled")
	if err := wc.Create(context.Background(), b); err != nil {
		t.Fatalf("a bucket breaking a warn guardrail was refused: %v", err)
	}
	t.Logf("warnings: %q", wc.Warnings())
	want := fmt.Sprintf("[warn-labels-%s] Bucket %s/unlabeled: metadata.labels is missing label owner", ns, ns)
	if !slices.ContainsFunc(wc.Warnings(), func(w string) bool { return strings.Contains(w, want) }) {
		t.Errorf("warnings %q, want one containing %q", wc.Warnings(), want)
	}
	h.WaitReady(t, b)
	h.Delete(t, b)
}

// dryrun admits silently and records the violation as an Event on the
// Guardrail.
func TestDryRunAdmitsAndRecords(t *testing.T) {
	ns := h.Namespace(t)
	g := guardrail(t, "dryrun-public-"+ns, "buckets-not-public", ns, policyv1alpha1.EnforcementDryRun, nil)
	enforce(t, g)

	wc := newWarningClient(t)
	b := bucket(ns, "open", public)
	if err := wc.Create(context.Background(), b); err != nil {
		t.Fatalf("a bucket breaking a dryrun guardrail was refused: %v", err)
	}
	if w := wc.Warnings(); len(w) > 0 {
		t.Errorf("dryrun gave warnings %q, want none", w)
	}
	note := h.WaitEvent(t, g, "Guardrail", admission.ReasonDryRunViolation)
	if want := fmt.Sprintf("Bucket %s/open: spec.publicAccess must be Blocked", ns); !strings.Contains(note, want) {
		t.Errorf("the dryrun Event says %q, want it to contain %q", note, want)
	}
	h.WaitReady(t, b)
	h.Delete(t, b)
}

// A Guardrail whose Rego does not compile is refused at admission, with the
// line and column, and nothing is loaded.
func TestBadRegoRefused(t *testing.T) {
	g := &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: "broken"},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego:  "package broken\n\nviolation contains msg if {\n\tinput.object.spec.x ==\n}\n",
			Match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}},
		},
	}
	err := h.Client.Create(context.Background(), g)
	if err == nil {
		_ = h.Client.Delete(context.Background(), g)
		t.Fatal("a Guardrail that does not compile was admitted")
	}
	t.Logf("refusal: %v", err)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.rego") || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("the refusal is %v, want Invalid naming spec.rego and line 5", err)
	}
	if _, loaded := h.Guardrails.Get("broken"); loaded {
		t.Error("the refused Guardrail was loaded")
	}

	// A module without a violation rule is refused too.
	g.Spec.Rego = "package nothing\n\nallow := true\n"
	if err := h.Client.Create(context.Background(), g); err == nil || !strings.Contains(err.Error(), "does not define a violation rule") {
		t.Errorf("a module without violation: got %v", err)
	}
}

// Guardrails never judge the exempt system namespaces.
func TestExemptNamespace(t *testing.T) {
	g := guardrail(t, "deny-public-system", "buckets-not-public", "kube-public", policyv1alpha1.EnforcementDeny, nil)
	enforce(t, g)
	b := bucket("kube-public", "exempt", public)
	if err := h.Client.Create(context.Background(), b); err != nil {
		t.Fatalf("a bucket in an exempt namespace was refused: %v", err)
	}
	h.WaitReady(t, b)
	h.Delete(t, b)
	h.WaitGone(t, b)
}
