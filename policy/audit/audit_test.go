package audit

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/policy/guardrails"
)

const (
	publicRego = `package t.public

violation contains {"msg": "spec.publicAccess must be Blocked"} if {
	input.object.spec.publicAccess == "Allowed"
}
`
	loopRego = `package t.loop

violation contains {"msg": "never"} if {
	count([[i, j] | some i in numbers.range(1, 1000); some j in numbers.range(1, 1000)]) < 0
}
`
	conflictRego = `package t.conflict

kind := input.object.kind
kind := "other"

violation contains {"msg": kind} if { true }
`
	// labelRego fails on the Buckets labelled bad only.
	labelRego = `package t.label

bad := input.object.metadata.labels.tier
bad := "x"

violation contains {"msg": "never"} if {
	input.object.metadata.labels.tier == "bad"
	bad == "y"
}
`
)

var bucketGVK = schema.GroupVersionKind{Group: "storage.stratus.dev", Version: "v1alpha1", Kind: "Bucket"}

func newGuardrail(name, rego string) *policyv1alpha1.Guardrail {
	return &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego:  rego,
			Match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}},
		},
		Status: policyv1alpha1.GuardrailStatus{Conditions: []metav1.Condition{{
			Type: "Compiled", Status: metav1.ConditionTrue, Reason: "Compiled", Message: "enforced", ObservedGeneration: 1,
			LastTransitionTime: metav1.Now(),
		}}},
	}
}

func newBucket(name, public string, labels map[string]string) *storagev1alpha1.Bucket {
	b := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, UID: types.UID("uid-" + name), Labels: labels}}
	b.Spec.PublicAccess = storagev1alpha1.PublicAccess(public)
	return b
}

// newAuditor returns an Auditor of the Buckets and Guardrails given, on a
// fake API server.
func newAuditor(t *testing.T, gs []*policyv1alpha1.Guardrail, buckets ...client.Object) (*Auditor, client.Client) {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, storagev1alpha1.AddToScheme, policyv1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	objs := append([]client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}}, buckets...)
	store := guardrails.NewStore()
	for _, g := range gs {
		objs = append(objs, g)
		e, err := guardrails.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		store.Put(e)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(&policyv1alpha1.Guardrail{}).Build()
	return &Auditor{
		Client:       c,
		Store:        store,
		ManagedKinds: []schema.GroupVersionKind{bucketGVK},
		Recorder:     &events.FakeRecorder{Events: make(chan string, 100)},
	}, c
}

// audited returns the Guardrail's status after the audit.
func audited(t *testing.T, c client.Client, name string) (policyv1alpha1.GuardrailStatus, *metav1.Condition) {
	t.Helper()
	g := &policyv1alpha1.Guardrail{}
	if err := c.Get(context.Background(), types.NamespacedName{Name: name}, g); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(g.Status.Conditions, "Compiled"); c == nil || c.Message != "enforced" {
		t.Errorf("%s: the audit changed the Compiled condition: %+v", name, g.Status.Conditions)
	}
	return g.Status, meta.FindStatusCondition(g.Status.Conditions, ConditionAudited)
}

// TestFailingGuardrailsDoNotStopTheAudit audits Buckets with a guardrail
// that works, one that exceeds its limits, one that fails on every Bucket
// and one that fails on one: each is reported on its own status, and the
// one that works finds every violation.
func TestFailingGuardrailsDoNotStopTheAudit(t *testing.T) {
	a, c := newAuditor(t,
		[]*policyv1alpha1.Guardrail{newGuardrail("a-loop", loopRego), newGuardrail("b-conflict", conflictRego), newGuardrail("c-label", labelRego), newGuardrail("d-public", publicRego)},
		newBucket("one", "Allowed", nil), newBucket("two", "Blocked", map[string]string{"tier": "bad"}), newBucket("three", "Allowed", nil))
	start := time.Now()
	if err := a.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("the audit took %v", time.Since(start))

	st, cond := audited(t, c, "d-public")
	if st.TotalViolations != 2 || len(st.Violations) != 2 || st.AuditTime == nil {
		t.Errorf("d-public: status %+v, want 2 violations", st)
	}
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != ReasonAudited || cond.Message != "judged 3 resources" {
		t.Errorf("d-public: Audited %+v, want True judging 3", cond)
	}

	_, cond = audited(t, c, "a-loop")
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != ReasonLimitExceeded ||
		!strings.Contains(cond.Message, "judged 0 of 3 resources, 1 failed, 2 not evaluated") ||
		!strings.Contains(cond.Message, `exceeded its limit of 100000 evaluation steps`) {
		t.Errorf("a-loop: Audited %+v, want False LimitExceeded after one evaluation", cond)
	}

	_, cond = audited(t, c, "b-conflict")
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != ReasonEvaluationFailed ||
		!strings.Contains(cond.Message, "could not judge 3 of 3 resources; first: Bucket team-a/") || !strings.Contains(cond.Message, "eval_conflict_error") {
		t.Errorf("b-conflict: Audited %+v, want False EvaluationFailed on all 3", cond)
	}

	_, cond = audited(t, c, "c-label")
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != ReasonEvaluationFailed ||
		!strings.Contains(cond.Message, "could not judge 1 of 3 resources; first: Bucket team-a/two") {
		t.Errorf("c-label: Audited %+v", cond)
	}

	if n := len(a.Recorder.(*events.FakeRecorder).Events); n != 2 {
		t.Errorf("%d Events, want one per violation", n)
	}

	// Fixed, the guardrail is Audited again.
	g := &policyv1alpha1.Guardrail{}
	if err := c.Get(context.Background(), types.NamespacedName{Name: "a-loop"}, g); err != nil {
		t.Fatal(err)
	}
	g.Spec.Rego, g.Generation = publicRego, 2
	e, err := guardrails.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	a.Store.Put(e)
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, cond := audited(t, c, "a-loop"); cond == nil || cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != 2 {
		t.Errorf("a-loop fixed: Audited %+v, want True for generation 2", cond)
	}
}

// TestGuardrailBudget checks that a guardrail whose evaluations take longer
// than its budget of the audit is stopped and says so.
func TestGuardrailBudget(t *testing.T) {
	a, c := newAuditor(t, []*policyv1alpha1.Guardrail{newGuardrail("public", publicRego)},
		newBucket("one", "Allowed", nil), newBucket("two", "Allowed", nil), newBucket("three", "Allowed", nil))
	a.GuardrailBudget = time.Nanosecond
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, cond := audited(t, c, "public")
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != ReasonLimitExceeded ||
		!strings.Contains(cond.Message, "its evaluations took more than its budget of 1ns in one audit; judged 1 of 3 resources, 0 failed, 2 not evaluated") {
		t.Errorf("Audited %+v, want False LimitExceeded after one Bucket", cond)
	}
	if st.TotalViolations != 1 {
		t.Errorf("totalViolations %d, want the 1 judged", st.TotalViolations)
	}
}
