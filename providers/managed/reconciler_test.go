package managed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

type bucket = *storagev1alpha1.Bucket

// cloud is an in-memory cloud that counts the calls made to it.
type cloud struct {
	exists      bool
	unavailable bool // the resource exists but is still being created
	drift       []stratusv1alpha1.DriftedField
	observeErr  error
	createErr   error
	deleteErr   error
	connectErr  error
	block       bool // Observe waits for its context to end
	// createdObservation is what Create reports it made (nil: "observe
	// it"); Create then sets status.atProvider.name as Observe does.
	createdObservation *driver.Observation
	syncDelete         bool // Delete reports the resource gone
	// requests are the purpose and Known of each Observe's request.
	mu                  sync.Mutex
	requests            []string
	observes, creates   atomic.Int32
	updates, deletes    atomic.Int32
	connects            atomic.Int32
	createdWithPassword string
	// owner is the owner mark the resource carries; Create writes the
	// request's.
	owner driver.OwnerMark
}

// driver returns the cloud's driver; generates makes it one whose Create
// needs generated credentials.
func (c *cloud) driver(generates bool) driver.Registration[bucket] {
	reg := driver.Registration[bucket]{Driver: driver.DriverFunc[bucket](func(context.Context, driver.Config) (driver.Client[bucket], error) {
		c.connects.Add(1)
		if c.connectErr != nil {
			return nil, c.connectErr
		}
		return driver.ClientFuncs[bucket]{
			ObserveFn: func(ctx context.Context, req driver.Request[bucket]) (driver.Observation, error) {
				c.observes.Add(1)
				c.mu.Lock()
				c.requests = append(c.requests, fmt.Sprintf("%s known=%t", req.Purpose, req.Known))
				c.mu.Unlock()
				if c.block {
					<-ctx.Done()
					return driver.Observation{}, ctx.Err()
				}
				if c.observeErr != nil {
					return driver.Observation{}, c.observeErr
				}
				if !c.exists {
					return driver.Observation{}, nil
				}
				req.Object.Status.AtProvider.Name = req.ExternalName
				return driver.Observation{Exists: true, Available: !c.unavailable, State: "creating", Drift: c.drift,
					Connection: driver.ConnectionDetails{"bucket": []byte(req.ExternalName)}, Owner: c.owner}, nil
			},
			CreateFn: func(_ context.Context, req driver.Request[bucket]) (driver.CreateResult, error) {
				c.creates.Add(1)
				if c.createErr != nil {
					return driver.CreateResult{}, c.createErr
				}
				c.exists = true
				c.owner = req.Owner.Mark()
				c.createdWithPassword = string(req.Connection["password"])
				if c.createdObservation == nil {
					return driver.CreateResult{}, nil
				}
				req.Object.Status.AtProvider.Name = req.ExternalName
				obs := *c.createdObservation
				return driver.CreateResult{Observed: &obs}, nil
			},
			UpdateFn: func(context.Context, driver.Request[bucket]) (driver.UpdateResult, error) {
				c.updates.Add(1)
				c.drift = nil
				return driver.UpdateResult{}, nil
			},
			DeleteFn: func(context.Context, driver.Request[bucket]) (driver.DeleteResult, error) {
				c.deletes.Add(1)
				if c.deleteErr != nil {
					return driver.DeleteResult{}, c.deleteErr
				}
				c.exists = false
				return driver.DeleteResult{Gone: c.syncDelete}, nil
			},
		}, nil
	})}
	if generates {
		reg.GenerateCredentials = func() (driver.ConnectionDetails, error) {
			return driver.ConnectionDetails{"password": []byte("generated-secret")}, nil
		}
	}
	return reg
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, stratusv1alpha1.AddToScheme, storagev1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func newBucket(mutate ...func(*storagev1alpha1.Bucket)) *storagev1alpha1.Bucket {
	b := &storagev1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "logs", Generation: 1, UID: "uid-1"},
		Spec: storagev1alpha1.BucketSpec{ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{
			ProviderConfigRef: stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindNamespaced, Name: "aws"},
			DeletionPolicy:    stratusv1alpha1.DeletionDelete,
			ManagementPolicy:  stratusv1alpha1.ManagementFull,
		}},
	}
	for _, m := range mutate {
		m(b)
	}
	return b
}

// synced marks b as created by the operator and synced at its generation.
func synced(b *storagev1alpha1.Bucket) {
	b.Annotations = map[string]string{
		stratusv1alpha1.AnnotationExternalName:    "team-logs",
		stratusv1alpha1.AnnotationCreatePending:   "2026-01-01T00:00:00Z",
		stratusv1alpha1.AnnotationCreateSucceeded: "2026-01-01T00:00:01Z",
	}
	b.Finalizers = []string{stratusv1alpha1.Finalizer}
	b.Status.ObservedGeneration = b.Generation
	b.Status.Conditions = []metav1.Condition{
		{Type: stratusv1alpha1.ConditionSynced, Status: metav1.ConditionTrue, Reason: stratusv1alpha1.ReasonReconcileSuccess, LastTransitionTime: metav1.Now()},
		{Type: stratusv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: stratusv1alpha1.ReasonAvailable, LastTransitionTime: metav1.Now()},
	}
}

type harness struct {
	r        *Reconciler[bucket]
	client   client.Client
	recorder *events.FakeRecorder
}

func newHarness(t *testing.T, c *cloud, generates bool, objs ...client.Object) harness {
	t.Helper()
	// The namespace is labelled for Ambient credentials: the tests' default
	// configuration uses them. A test may pass its own configuration "aws".
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{stratusv1alpha1.LabelAllowAmbientCredentials: "true"}}}
	objs = append(objs, ns)
	if !slices.ContainsFunc(objs, func(o client.Object) bool { _, ok := o.(*stratusv1alpha1.ProviderConfig); return ok }) {
		objs = append(objs, &stratusv1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "aws"},
			Spec: stratusv1alpha1.ProviderConfigSpec{
				Provider:    stratusv1alpha1.ProviderAWS,
				Region:      "eu-west-1",
				Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient},
			},
		})
	}
	cl := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithObjects(objs...).
		WithStatusSubresource(&storagev1alpha1.Bucket{}).
		Build()
	rec := events.NewFakeRecorder(100)
	kind := Kind[bucket]{
		New:     func() bucket { return &storagev1alpha1.Bucket{} },
		Drivers: map[stratusv1alpha1.Provider]driver.Registration[bucket]{stratusv1alpha1.ProviderAWS: c.driver(generates)},
		ExternalName: func(b bucket) string {
			if b.Spec.BucketName != "" {
				return b.Spec.BucketName
			}
			return b.Namespace + "-" + b.Name
		},
		GeneratedName: func(b bucket) string { return b.Namespace + "-" + b.Name },
		Region:        func(b bucket) string { return b.Spec.Region },
	}
	gvk := storagev1alpha1.GroupVersion.WithKind("Bucket")
	r := NewReconciler(kind, gvk, cl, cl, NewProviderConfigs(cl, cl), rec, Options{Timeout: 200 * time.Millisecond, ClusterName: testCluster})
	return harness{r: r, client: cl, recorder: rec}
}

// testCluster is the cluster name of the reconcilers under test.
const testCluster = "test-cluster"

// withConfig returns b with, when adopt is true, the adoptingConfig.
func withConfig(b *storagev1alpha1.Bucket, adopt bool) []client.Object {
	if adopt {
		return append([]client.Object{b}, adoptingConfig()...)
	}
	return []client.Object{b}
}

// adoptingConfig returns the configuration "aws" with credentials from a
// Secret of the namespace and adoption allowed, and its Secret.
func adoptingConfig() []client.Object {
	return []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "aws-credentials"}, Data: map[string][]byte{"key": []byte("k")}},
		&stratusv1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "aws"},
			Spec: stratusv1alpha1.ProviderConfigSpec{
				Provider: stratusv1alpha1.ProviderAWS,
				Region:   "eu-west-1",
				Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret,
					SecretRef: &stratusv1alpha1.SecretReference{Name: "aws-credentials"}},
				Adoption: &stratusv1alpha1.NamespacePolicy{From: stratusv1alpha1.NamespacesFromAll},
			},
		},
	}
}

func (h harness) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "logs"}})
}

func (h harness) get(t *testing.T) *storagev1alpha1.Bucket {
	t.Helper()
	var b storagev1alpha1.Bucket
	if err := h.client.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "logs"}, &b); err != nil {
		t.Fatalf("get bucket: %v", err)
	}
	return &b
}

func (h harness) events() []string {
	var got []string
	for {
		select {
		case e := <-h.recorder.Events:
			got = append(got, strings.Fields(e)[1]) // "<type> <reason> <note>"
		default:
			return got
		}
	}
}

func condition(b *storagev1alpha1.Bucket, typ string) string {
	c := meta.FindStatusCondition(b.Status.Conditions, typ)
	if c == nil {
		return "<none>"
	}
	return string(c.Status) + "/" + c.Reason
}

// outcome is what a reconcile did, compared as a whole.
type outcome struct {
	Creates, Updates, Deletes int32
	Ready, Synced             string
	Events                    []string
	Err                       bool
	Requeue                   bool
	Drift                     int
}

func TestReconcile(t *testing.T) {
	throttled := driver.Throttled(errors.New("SlowDown: reduce your request rate"))
	cases := []struct {
		reason string
		bucket *storagev1alpha1.Bucket
		cloud  *cloud
		// adopt uses a configuration that lets the namespace adopt.
		adopt bool
		want  outcome
	}{
		{
			reason: "a new bucket is created, observed and Ready in one reconcile",
			bucket: newBucket(),
			cloud:  &cloud{},
			want:   outcome{Creates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"CreatedExternalResource"}, Requeue: true},
		},
		{
			reason: "an up-to-date bucket is left alone and polled again",
			bucket: newBucket(synced),
			cloud:  &cloud{exists: true},
			want:   outcome{Ready: "True/Available", Synced: "True/ReconcileSuccess", Requeue: true},
		},
		{
			reason: "a change made in the cloud to an unchanged spec is drift: reported and corrected",
			bucket: newBucket(synced),
			cloud:  &cloud{exists: true, drift: []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Suspended"}}},
			want:   outcome{Updates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"DriftDetected", "DriftCorrected"}, Requeue: true, Drift: 1},
		},
		{
			reason: "what a resource still being created lacks is the create's next step, not drift",
			bucket: newBucket(synced, func(b *storagev1alpha1.Bucket) {
				b.Status.Conditions[1].Status, b.Status.Conditions[1].Reason = metav1.ConditionFalse, stratusv1alpha1.ReasonCreating
			}),
			cloud: &cloud{exists: true, drift: []stratusv1alpha1.DriftedField{{Field: "spec.owner", Desired: "app", Observed: "(does not exist)"}}},
			want:  outcome{Updates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"UpdatedExternalResource"}, Requeue: true},
		},
		{
			reason: "a spec change is an update, not drift",
			bucket: newBucket(synced, func(b *storagev1alpha1.Bucket) { b.Generation = 2 }),
			cloud:  &cloud{exists: true, drift: []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Suspended"}}},
			want:   outcome{Updates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"UpdatedExternalResource"}, Requeue: true},
		},
		{
			reason: "observe-only reports drift and never writes",
			bucket: newBucket(func(b *storagev1alpha1.Bucket) {
				b.Spec.ManagementPolicy = stratusv1alpha1.ManagementObserveOnly
				b.Annotations = map[string]string{stratusv1alpha1.AnnotationExternalName: "existing"}
			}),
			cloud: &cloud{exists: true, drift: []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "a=1", Observed: ""}}},
			adopt: true,
			want:  outcome{Ready: "True/Available", Synced: "True/ObserveOnly", Events: []string{"DriftDetected"}, Requeue: true, Drift: 1},
		},
		{
			reason: "observe-only does not create a missing bucket",
			bucket: newBucket(func(b *storagev1alpha1.Bucket) { b.Spec.ManagementPolicy = stratusv1alpha1.ManagementObserveOnly }),
			cloud:  &cloud{},
			want:   outcome{Ready: "False/NotFound", Synced: "True/ObserveOnly", Requeue: true},
		},
		{
			reason: "an existing bucket this object did not create is not taken over",
			bucket: newBucket(),
			cloud:  &cloud{exists: true},
			want:   outcome{Ready: "False/NameConflict", Synced: "False/NameConflict", Events: []string{"Refused"}, Requeue: true},
		},
		{
			reason: "an existing bucket named by the external-name annotation is adopted where the configuration allows it",
			bucket: newBucket(func(b *storagev1alpha1.Bucket) {
				b.Annotations = map[string]string{stratusv1alpha1.AnnotationExternalName: "existing"}
			}),
			cloud: &cloud{exists: true},
			adopt: true,
			want:  outcome{Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"AdoptedExternalResource"}, Requeue: true},
		},
		{
			reason: "a resource the cloud is still creating is Creating, and observed again soon",
			bucket: newBucket(),
			cloud:  &cloud{unavailable: true},
			want:   outcome{Creates: 1, Ready: "False/Creating", Synced: "True/ReconcileSuccess", Events: []string{"CreatedExternalResource"}, Requeue: true},
		},
		{
			reason: "a resource that was available and no longer is, is Unavailable",
			bucket: newBucket(synced),
			cloud:  &cloud{exists: true, unavailable: true},
			want:   outcome{Ready: "False/Unavailable", Synced: "True/ReconcileSuccess", Requeue: true},
		},
		{
			reason: "throttling is reported and retried with backoff",
			bucket: newBucket(synced),
			cloud:  &cloud{exists: true, observeErr: throttled},
			want:   outcome{Ready: "True/Available", Synced: "False/Throttled", Events: []string{"CannotObserveExternalResource"}, Err: true},
		},
		{
			reason: "a cloud call that hangs is cut off by the reconcile timeout and retried",
			bucket: newBucket(synced),
			cloud:  &cloud{exists: true, block: true},
			want:   outcome{Ready: "True/Available", Synced: "False/ReconcileError", Events: []string{"CannotObserveExternalResource"}, Err: true},
		},
		{
			reason: "a terminal error is reported and retried only at the long terminal interval",
			bucket: newBucket(),
			cloud:  &cloud{createErr: driver.Terminalf("bucket name %q is taken by another account", "team-logs")},
			want:   outcome{Creates: 1, Ready: "False/Creating", Synced: "False/InvalidSpec", Events: []string{"CannotCreateExternalResource"}, Requeue: true},
		},
		{
			reason: "refused credentials are reported as such and retried",
			bucket: newBucket(),
			cloud:  &cloud{connectErr: driver.BadCredentials(errors.New("InvalidAccessKeyId"))},
			want:   outcome{Ready: "False/Unavailable", Synced: "False/BadCredentials", Events: []string{"CannotConnectToProvider"}, Err: true},
		},
		{
			reason: "a paused object is not reconciled",
			bucket: newBucket(func(b *storagev1alpha1.Bucket) {
				b.Annotations = map[string]string{stratusv1alpha1.AnnotationPaused: "true"}
			}),
			cloud: &cloud{},
			want:  outcome{Synced: "False/ReconcilePaused", Ready: "<none>"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			h := newHarness(t, tc.cloud, false, withConfig(tc.bucket, tc.adopt)...)
			res, err := h.reconcile(t)
			b := h.get(t)
			got := outcome{
				Creates: tc.cloud.creates.Load(), Updates: tc.cloud.updates.Load(), Deletes: tc.cloud.deletes.Load(),
				Ready: condition(b, stratusv1alpha1.ConditionReady), Synced: condition(b, stratusv1alpha1.ConditionSynced),
				Events: h.events(), Err: err != nil, Requeue: res.RequeueAfter > 0, Drift: len(b.Status.Drift),
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nReconcile(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCreateRecordsIntentAndConnection(t *testing.T) {
	c := &cloud{}
	h := newHarness(t, c, true, newBucket())
	if _, err := h.reconcile(t); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	b := h.get(t)
	for _, a := range []string{stratusv1alpha1.AnnotationExternalName, stratusv1alpha1.AnnotationCreatePending} {
		if b.Annotations[a] == "" {
			t.Errorf("annotation %s is not set after create", a)
		}
	}
	if v, ok := b.Annotations[stratusv1alpha1.AnnotationCreateSucceeded]; ok {
		t.Errorf("annotation %s = %q after create; it is no longer written (one API request per create)", stratusv1alpha1.AnnotationCreateSucceeded, v)
	}
	if b.Annotations[stratusv1alpha1.AnnotationExternalName] != "team-logs" {
		t.Errorf("external name = %q, want team-logs", b.Annotations[stratusv1alpha1.AnnotationExternalName])
	}
	if len(b.Finalizers) != 1 || b.Finalizers[0] != stratusv1alpha1.Finalizer {
		t.Errorf("finalizers = %v, want [%s]", b.Finalizers, stratusv1alpha1.Finalizer)
	}
	// The generated password was persisted before Create and given to it.
	var s corev1.Secret
	if err := h.client.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "logs-connection"}, &s); err != nil {
		t.Fatalf("get connection secret: %v", err)
	}
	if string(s.Data["password"]) != "generated-secret" || c.createdWithPassword != "generated-secret" {
		t.Errorf("secret password %q, Create saw %q; want both generated-secret", s.Data["password"], c.createdWithPassword)
	}
	if string(s.Data["bucket"]) != "team-logs" {
		t.Errorf("secret bucket = %q, want the observed connection detail team-logs", s.Data["bucket"])
	}
	if !metav1.IsControlledBy(&s, b) {
		t.Errorf("connection secret is not controlled by the bucket")
	}
}

func TestCreateResultSparesObserve(t *testing.T) {
	cases := map[string]struct {
		reason       string
		created      *driver.Observation
		wantObserves int32
		wantReady    string
		wantRequeue  time.Duration // 0: the poll interval
	}{
		"Available": {
			reason:       "A create that vouches for an available resource makes it Ready without a second Observe.",
			created:      &driver.Observation{Exists: true, Available: true},
			wantObserves: 1,
			wantReady:    "True/Available",
		},
		"StillCreating": {
			reason:       "A create that reports a resource not available yet leaves it Creating and polls soon.",
			created:      &driver.Observation{Exists: true, State: "creating"},
			wantObserves: 1,
			wantReady:    "False/Creating",
			wantRequeue:  defaultPendingPollInterval,
		},
		"CannotTell": {
			reason:       "A create that cannot tell (no observation) is observed, as for any driver.",
			wantObserves: 2,
			wantReady:    "True/Available",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := &cloud{createdObservation: tc.created}
			h := newHarness(t, c, false, newBucket())
			res, err := h.reconcile(t)
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			b := h.get(t)
			got := []any{c.creates.Load(), c.observes.Load(), condition(b, stratusv1alpha1.ConditionReady), b.Status.AtProvider.Name}
			want := []any{int32(1), tc.wantObserves, tc.wantReady, "team-logs"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s\n[creates observes Ready atProvider.name]: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.wantRequeue != 0 && res.RequeueAfter != tc.wantRequeue {
				t.Errorf("%s\nRequeueAfter = %v, want %v", tc.reason, res.RequeueAfter, tc.wantRequeue)
			}
			if tc.wantRequeue == 0 && res.RequeueAfter < DefaultPollInterval {
				t.Errorf("%s\nRequeueAfter = %v, want the poll interval (%v and jitter)", tc.reason, res.RequeueAfter, DefaultPollInterval)
			}
		})
	}
}

func TestResumeAfterCrashDoesNotCreateTwice(t *testing.T) {
	// The manager died after Create but before it wrote anything else: only
	// the intent recorded before the call is on the object.
	b := newBucket(func(b *storagev1alpha1.Bucket) {
		b.Annotations = map[string]string{
			stratusv1alpha1.AnnotationExternalName:  "team-logs",
			stratusv1alpha1.AnnotationCreatePending: "2026-01-01T00:00:00Z",
		}
		b.Finalizers = []string{stratusv1alpha1.Finalizer}
	})
	c := &cloud{exists: true}
	h := newHarness(t, c, false, b)
	if _, err := h.reconcile(t); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if n := c.creates.Load(); n != 0 {
		t.Errorf("Create called %d times after a crash, want 0: the bucket exists under its recorded name", n)
	}
	if got := condition(h.get(t), stratusv1alpha1.ConditionReady); got != "True/Available" {
		t.Errorf("Ready = %s, want True/Available", got)
	}
}

func TestDelete(t *testing.T) {
	cases := []struct {
		reason       string
		mutate       func(*storagev1alpha1.Bucket)
		cloud        *cloud
		wantDeletes  int32
		wantGone     bool
		wantReady    string
		wantExisting bool
		wantObserves int32 // 0: not checked
	}{
		{reason: "Delete deletes the cloud resource, observes that it is gone, and then releases the object", cloud: &cloud{exists: true}, wantDeletes: 1, wantGone: true, wantObserves: 2},
		{reason: "A synchronous Delete releases the object without observing again", cloud: &cloud{exists: true, syncDelete: true}, wantDeletes: 1, wantGone: true, wantObserves: 1},
		{reason: "Orphan keeps the cloud resource", mutate: func(b *storagev1alpha1.Bucket) { b.Spec.DeletionPolicy = stratusv1alpha1.DeletionOrphan },
			cloud: &cloud{exists: true}, wantGone: true, wantExisting: true},
		{reason: "observe-only never deletes", mutate: func(b *storagev1alpha1.Bucket) { b.Spec.ManagementPolicy = stratusv1alpha1.ManagementObserveOnly },
			cloud: &cloud{exists: true}, wantGone: true, wantExisting: true},
		{reason: "a blocked deletion keeps the object and the cloud resource", cloud: &cloud{exists: true, deleteErr: driver.Blockedf("bucket %q still holds objects", "team-logs")},
			wantDeletes: 1, wantReady: "False/DeletionBlocked", wantExisting: true},
		{reason: "a resource already gone just releases the object", cloud: &cloud{}, wantGone: true},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			b := newBucket(synced)
			if tc.mutate != nil {
				tc.mutate(b)
			}
			h := newHarness(t, tc.cloud, false, b)
			if err := h.client.Delete(context.Background(), h.get(t)); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := h.reconcile(t); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			if got := tc.cloud.deletes.Load(); got != tc.wantDeletes {
				t.Errorf("driver Delete called %d times, want %d", got, tc.wantDeletes)
			}
			if got := tc.cloud.observes.Load(); tc.wantObserves != 0 && got != tc.wantObserves {
				t.Errorf("driver Observe called %d times, want %d", got, tc.wantObserves)
			}
			if tc.cloud.exists != tc.wantExisting {
				t.Errorf("cloud resource exists = %v, want %v", tc.cloud.exists, tc.wantExisting)
			}
			var got storagev1alpha1.Bucket
			err := h.client.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "logs"}, &got)
			if gone := apierrors.IsNotFound(err); gone != tc.wantGone {
				t.Fatalf("object gone = %v (err %v), want %v", gone, err, tc.wantGone)
			}
			if !tc.wantGone {
				if c := condition(&got, stratusv1alpha1.ConditionReady); c != tc.wantReady {
					t.Errorf("Ready = %s, want %s", c, tc.wantReady)
				}
			}
		})
	}
}

func TestBadCredentialsReconnect(t *testing.T) {
	c := &cloud{connectErr: driver.BadCredentials(errors.New("InvalidAccessKeyId"))}
	h := newHarness(t, c, false, newBucket())
	if _, err := h.reconcile(t); err == nil {
		t.Fatal("Reconcile with refused credentials returned no error: it would not be retried")
	}
	c.connectErr = nil
	if _, err := h.reconcile(t); err != nil {
		t.Fatalf("Reconcile after the credentials were fixed: %v", err)
	}
	if got := condition(h.get(t), stratusv1alpha1.ConditionReady); got != "True/Available" {
		t.Errorf("Ready = %s after the credentials were fixed, want True/Available", got)
	}
}

func TestNoDriverForProvider(t *testing.T) {
	c := &cloud{}
	h := newHarness(t, c, false, newBucket())
	h.r.kind.Drivers = nil
	res, err := h.reconcile(t)
	if err != nil || res.RequeueAfter < terminalRetryInterval {
		t.Fatalf("Reconcile = %v, %v; want no error and a retry after %v for a terminal error", res, err, terminalRetryInterval)
	}
	s := meta.FindStatusCondition(h.get(t).Status.Conditions, stratusv1alpha1.ConditionSynced)
	if s == nil || !strings.Contains(s.Message, "has no driver for provider AWS") {
		t.Errorf("Synced = %+v, want a message naming the missing driver", s)
	}
}

func TestSpecOrIntentChanged(t *testing.T) {
	p := specOrIntentChanged()
	base := newBucket(synced)
	cases := []struct {
		reason string
		mutate func(*storagev1alpha1.Bucket)
		want   bool
	}{
		{reason: "a status-only change is ignored", mutate: func(b *storagev1alpha1.Bucket) { b.Status.Drift = nil; b.ResourceVersion = "2" }},
		{reason: "a spec change passes", mutate: func(b *storagev1alpha1.Bucket) { b.Generation++ }, want: true},
		{reason: "a deletion passes", mutate: func(b *storagev1alpha1.Bucket) { now := metav1.Now(); b.DeletionTimestamp = &now }, want: true},
		{reason: "pausing passes", mutate: func(b *storagev1alpha1.Bucket) { b.Annotations[stratusv1alpha1.AnnotationPaused] = "true" }, want: true},
		{reason: "the reconciler's own create bookkeeping is ignored", mutate: func(b *storagev1alpha1.Bucket) {
			b.Annotations[stratusv1alpha1.AnnotationCreateSucceeded] = "later"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			changed := base.DeepCopy()
			changed.Annotations = map[string]string{}
			for k, v := range base.Annotations {
				changed.Annotations[k] = v
			}
			tc.mutate(changed)
			if got := p.Update(updateEvent(base, changed)); got != tc.want {
				t.Errorf("%s: predicate = %v, want %v", tc.reason, got, tc.want)
			}
		})
	}
}

func updateEvent(old, new client.Object) event.UpdateEvent {
	return event.UpdateEvent{ObjectOld: old, ObjectNew: new}
}

func TestRequestPurposeAndKnown(t *testing.T) {
	recorded := func(b *storagev1alpha1.Bucket) {
		synced(b)
		b.Status.ExternalResource = &stratusv1alpha1.ExternalResourceStatus{Name: "team-logs", Provider: stratusv1alpha1.ProviderAWS, ProviderConfigRef: b.Spec.ProviderConfigRef}
	}
	drifted := []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Suspended"}}
	cases := []struct {
		reason string
		bucket *storagev1alpha1.Bucket
		cloud  *cloud
		delete bool
		adopt  bool
		// want are the purpose and Known of each Observe, in order.
		want []string
	}{
		{
			reason: "A new resource is not known, before the create nor after it.",
			bucket: newBucket(),
			cloud:  &cloud{},
			want:   []string{"Sync known=false", "Sync known=false"},
		},
		{
			reason: "A resource recorded in status.externalResource is known.",
			bucket: newBucket(recorded),
			cloud:  &cloud{exists: true},
			want:   []string{"Sync known=true"},
		},
		{
			reason: "A resource adopted in this reconcile is known once recorded: the observation after the Update may read it right away.",
			bucket: newBucket(func(b *storagev1alpha1.Bucket) {
				b.Annotations = map[string]string{stratusv1alpha1.AnnotationExternalName: "existing"}
			}),
			cloud: &cloud{exists: true, drift: drifted},
			adopt: true,
			want:  []string{"Sync known=false", "Sync known=true"},
		},
		{
			reason: "A resource recorded through another configuration is not known through this one.",
			bucket: newBucket(recorded, func(b *storagev1alpha1.Bucket) {
				b.Status.ExternalResource.ProviderConfigRef.Name = "old"
			}),
			cloud: &cloud{exists: true},
			want:  []string{"Sync known=false"},
		},
		{
			reason: "Deleting observes for the deletion, before the Delete and until the resource is gone.",
			bucket: newBucket(recorded),
			cloud:  &cloud{exists: true},
			delete: true,
			want:   []string{"Delete known=true", "Delete known=true"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			h := newHarness(t, tc.cloud, false, withConfig(tc.bucket, tc.adopt)...)
			if tc.delete {
				if err := h.client.Delete(context.Background(), h.get(t)); err != nil {
					t.Fatalf("delete: %v", err)
				}
			}
			if _, err := h.reconcile(t); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			if diff := cmp.Diff(tc.want, tc.cloud.requests); diff != "" {
				t.Errorf("%s\nObserve requests: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCloudNameRefused(t *testing.T) {
	invalid := func(name string) (string, error) {
		return "", driver.Terminalf("%q holds characters the cloud does not allow", name)
	}
	t.Run("create", func(t *testing.T) {
		c := &cloud{}
		h := newHarness(t, c, false, newBucket())
		reg := h.r.kind.Drivers[stratusv1alpha1.ProviderAWS]
		reg.CloudName = invalid
		h.r.kind.Drivers[stratusv1alpha1.ProviderAWS] = reg
		res, err := h.reconcile(t)
		if err != nil || res.RequeueAfter < terminalRetryInterval {
			t.Fatalf("Reconcile = %v, %v; want no error and a retry after %v for a terminal error", res, err, terminalRetryInterval)
		}
		b := h.get(t)
		got := []any{condition(b, stratusv1alpha1.ConditionSynced), h.events(), c.connects.Load(), b.Annotations[stratusv1alpha1.AnnotationCreatePending], len(b.Finalizers)}
		want := []any{"False/InvalidSpec", []string{"InvalidExternalName"}, int32(0), "", 0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("a name no cloud resource can have is refused before any intent is recorded or the cloud called\n[Synced events connects create-pending finalizers]: -want, +got:\n%s", diff)
		}
	})
	t.Run("delete", func(t *testing.T) {
		c := &cloud{exists: true}
		h := newHarness(t, c, false, newBucket(synced))
		reg := h.r.kind.Drivers[stratusv1alpha1.ProviderAWS]
		reg.CloudName = invalid
		h.r.kind.Drivers[stratusv1alpha1.ProviderAWS] = reg
		if err := h.client.Delete(context.Background(), h.get(t)); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := h.reconcile(t); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		var b storagev1alpha1.Bucket
		err := h.client.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "logs"}, &b)
		if !apierrors.IsNotFound(err) || c.connects.Load() != 0 {
			t.Errorf("an object deleted under a name no cloud resource can have: get = %v, %d connects; want it gone without a cloud call", err, c.connects.Load())
		}
	})
}
