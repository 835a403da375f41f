package managed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

func TestStateOf(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
	}
	ready := func(status metav1.ConditionStatus, reason string) metav1.Condition {
		return cond(stratusv1alpha1.ConditionReady, status, reason)
	}
	synced := func(status metav1.ConditionStatus, reason string) metav1.Condition {
		return cond(stratusv1alpha1.ConditionSynced, status, reason)
	}
	const yes, no = metav1.ConditionTrue, metav1.ConditionFalse
	cases := []struct {
		reason   string
		conds    []metav1.Condition
		deleting bool
		want     string
	}{
		{reason: "available and synced", conds: []metav1.Condition{ready(yes, "Available"), synced(yes, "ReconcileSuccess")}, want: stateReady},
		{reason: "observe-only and available", conds: []metav1.Condition{ready(yes, "Available"), synced(yes, "ObserveOnly")}, want: stateReady},
		{reason: "being created", conds: []metav1.Condition{ready(no, "Creating"), synced(yes, "ReconcileSuccess")}, want: stateCreating},
		{reason: "no longer available", conds: []metav1.Condition{ready(no, "Unavailable"), synced(yes, "ReconcileSuccess")}, want: stateUnavailable},
		{reason: "observe-only and missing", conds: []metav1.Condition{ready(no, "NotFound"), synced(yes, "ObserveOnly")}, want: stateUnavailable},
		{reason: "being deleted", conds: []metav1.Condition{ready(no, "Deleting"), synced(yes, "ReconcileSuccess")}, deleting: true, want: stateDeleting},
		{reason: "deletion timestamp, Ready still Available", conds: []metav1.Condition{ready(yes, "Available"), synced(yes, "ReconcileSuccess")}, deleting: true, want: stateDeleting},
		{reason: "deletion blocked", conds: []metav1.Condition{ready(no, "DeletionBlocked"), synced(yes, "ReconcileSuccess")}, deleting: true, want: stateDeletionBlocked},
		{reason: "a failed reconcile of an available resource", conds: []metav1.Condition{ready(yes, "Available"), synced(no, "Throttled")}, want: stateError},
		{reason: "a failed create", conds: []metav1.Condition{ready(no, "Creating"), synced(no, "InvalidSpec")}, want: stateError},
		{reason: "a failed delete", conds: []metav1.Condition{ready(no, "Deleting"), synced(no, "ReconcileError")}, deleting: true, want: stateError},
		{reason: "paused before any reconcile", conds: []metav1.Condition{synced(no, "ReconcilePaused")}, want: stateUnavailable},
		{reason: "paused when Ready", conds: []metav1.Condition{ready(yes, "Available"), synced(no, "ReconcilePaused")}, want: stateReady},
		{reason: "no conditions", want: stateUnavailable},
	}
	for _, tc := range cases {
		b := newBucket(func(b *storagev1alpha1.Bucket) {
			b.Status.Conditions = tc.conds
			if tc.deleting {
				now := metav1.Now()
				b.DeletionTimestamp = &now
			}
		})
		if got := stateOf(b); got != tc.want {
			t.Errorf("%s: stateOf(...) = %s, want %s", tc.reason, got, tc.want)
		}
	}
}

// wantManagedResources is the exposition of stratus_managed_resources with
// the given series, each "kind,provider,state value".
func wantManagedResources(series ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP stratus_managed_resources %s\n# TYPE stratus_managed_resources gauge\n", managedResourcesHelp)
	for _, s := range series {
		labels, value, _ := strings.Cut(s, " ")
		l := strings.Split(labels, ",")
		fmt.Fprintf(&b, "stratus_managed_resources{kind=%q,provider=%q,state=%q} %s\n", l[0], l[1], l[2], value)
	}
	return b.String()
}

// TestReconcileUpdatesMetrics takes one Bucket through its life with the
// reconciler of the unit tests and reads the metrics as /metrics serves
// them, from controller-runtime's registry.
func TestReconcileUpdatesMetrics(t *testing.T) {
	managedResources.reset()
	t.Cleanup(managedResources.reset)
	drift := driftDetected.WithLabelValues("Bucket", "AWS")

	c := &cloud{unavailable: true}
	h := newHarness(t, c, false, newBucket())
	steps := []struct {
		reason    string
		change    func()
		want      []string // series of stratus_managed_resources
		wantDrift float64  // DriftDetected counted in the step
	}{
		{
			reason: "a resource the cloud is still creating is Creating",
			want:   []string{"Bucket,AWS,Creating 1"},
		},
		{
			reason: "once available it is Ready, and no longer counted as Creating",
			change: func() { c.unavailable = false },
			want:   []string{"Bucket,AWS,Creating 0", "Bucket,AWS,Ready 1"},
		},
		{
			reason: "drift is counted when it is reported",
			change: func() {
				c.drift = []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Suspended"}}
			},
			want:      []string{"Bucket,AWS,Creating 0", "Bucket,AWS,Ready 1"},
			wantDrift: 1,
		},
		{
			reason: "a failed reconcile is Error",
			change: func() { c.observeErr = driver.Throttled(errors.New("SlowDown")) },
			want:   []string{"Bucket,AWS,Creating 0", "Bucket,AWS,Error 1", "Bucket,AWS,Ready 0"},
		},
		{
			reason: "a blocked deletion is DeletionBlocked",
			change: func() {
				c.observeErr, c.deleteErr = nil, driver.Blockedf("bucket still holds objects")
				if err := h.client.Delete(context.Background(), h.get(t)); err != nil {
					t.Fatalf("delete: %v", err)
				}
			},
			want: []string{"Bucket,AWS,Creating 0", "Bucket,AWS,DeletionBlocked 1", "Bucket,AWS,Error 0", "Bucket,AWS,Ready 0"},
		},
		{
			reason: "a deleted object is forgotten",
			change: func() { c.deleteErr = nil },
			want:   []string{"Bucket,AWS,Creating 0", "Bucket,AWS,DeletionBlocked 0", "Bucket,AWS,Error 0", "Bucket,AWS,Ready 0"},
		},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		driftBefore := testutil.ToFloat64(drift)
		_, _ = h.reconcile(t) // errors are what some steps are about
		if err := testutil.GatherAndCompare(metrics.Registry, strings.NewReader(wantManagedResources(s.want...)), "stratus_managed_resources"); err != nil {
			t.Errorf("%s:\n%v", s.reason, err)
		}
		if got := testutil.ToFloat64(drift) - driftBefore; got != s.wantDrift {
			t.Errorf("%s: stratus_drift_detected_total{kind=Bucket,provider=AWS} grew by %v, want %v", s.reason, got, s.wantDrift)
		}
	}
	if _, err := h.reconcile(t); err != nil {
		t.Fatalf("Reconcile of a deleted object: %v", err)
	}
	if n := len(managedResources.byKey); n != 0 {
		t.Errorf("%d objects are still known after their deletion, want none", n)
	}
}

func TestMetricsProviderUnknownUntilResolved(t *testing.T) {
	managedResources.reset()
	t.Cleanup(managedResources.reset)
	paused := newBucket(func(b *storagev1alpha1.Bucket) {
		b.Annotations = map[string]string{stratusv1alpha1.AnnotationPaused: "true"}
	})
	missingConfig := newBucket(func(b *storagev1alpha1.Bucket) {
		b.Name = "no-config"
		b.Spec.ProviderConfigRef.Name = "missing"
	})
	h := newHarness(t, &cloud{}, false, paused, missingConfig)
	if _, err := h.reconcile(t); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	_, _ = h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "no-config"}})
	want := wantManagedResources("Bucket,unknown,Error 1", "Bucket,unknown,Unavailable 1")
	if err := testutil.GatherAndCompare(metrics.Registry, strings.NewReader(want), "stratus_managed_resources"); err != nil {
		t.Errorf("a paused object never reconciled and one whose configuration is missing:\n%v", err)
	}

	// Once resolved, the provider is kept while the object is paused.
	b := h.get(t)
	delete(b.Annotations, stratusv1alpha1.AnnotationPaused)
	if err := h.client.Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile(t); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	b = h.get(t)
	b.Annotations[stratusv1alpha1.AnnotationPaused] = "true"
	if err := h.client.Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile(t); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	want = wantManagedResources("Bucket,AWS,Ready 1", "Bucket,unknown,Error 1", "Bucket,unknown,Unavailable 0")
	if err := testutil.GatherAndCompare(metrics.Registry, strings.NewReader(want), "stratus_managed_resources"); err != nil {
		t.Errorf("a Ready object paused again:\n%v", err)
	}
}
