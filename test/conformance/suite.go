// Package conformance is the table of behaviours every driver must pass,
// run through the real operator (API server, manager, driver, cloud or
// fake): create and read back every portable field, update each mutable
// field, drift detected and corrected, observe-only, adoption by external
// name, deletion with Delete and Orphan, resuming after a crash between the
// cloud create and the status write, transient errors retried, and refused
// credentials reported. A driver is done when its Target passes Run.
package conformance

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/test/harness"
)

// Cloud is what a cloud holds for one resource, as portable fields keyed
// by spec path ("spec.versioning").
type Cloud struct {
	Exists bool
	Fields map[string]string
}

// Mutation changes one mutable field of an object.
type Mutation struct {
	// Field is the spec path it changes.
	Field string
	// Apply changes it.
	Apply func(harness.Managed)
}

// Target is one driver under the suite.
type Target interface {
	// Name names the driver, such as "S3".
	Name() string
	// Kind is the managed kind the driver serves: "Bucket" or "Database".
	Kind() string
	// ProviderConfig returns the spec of a configuration for the driver and
	// the data of its credentials Secret (nil for ambient credentials).
	ProviderConfig() (stratusv1alpha1.ProviderConfigSpec, map[string][]byte)
	// BadCredentials returns credentials the cloud refuses.
	BadCredentials() map[string][]byte
	// New returns an object using ref with every portable field the driver
	// honours set.
	New(namespace, name string, ref stratusv1alpha1.ProviderConfigReference) harness.Managed
	// Mutations change each mutable field.
	Mutations() []Mutation
	// Want returns the portable fields obj asks for, keyed like Read's.
	Want(obj harness.Managed) map[string]string
	// Read reads the cloud resource behind an external name.
	Read(ctx context.Context, externalName string) (Cloud, error)
	// Tamper changes the cloud resource behind the operator's back and
	// returns the spec path it changed.
	Tamper(ctx context.Context, externalName string) (string, error)
	// CreateExternal creates a resource outside the operator, with the
	// cloud's defaults.
	CreateExternal(ctx context.Context, externalName string) error
	// Count returns the number of cloud resources whose name starts with
	// prefix.
	Count(ctx context.Context, prefix string) (int, error)
	// InjectTransient makes the next cloud calls fail as the cloud does
	// under throttling or a brief outage.
	InjectTransient(ctx context.Context) error
}

// Run runs every behaviour against target.
func Run(t *testing.T, h *harness.Harness, target Target) {
	s := &suite{h: h, target: target}
	s.ref = s.providerConfig(t, "conformance-"+strings.ToLower(target.Name()), target.BadCredentials, false)
	for _, b := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"create reads back every portable field", s.create},
		{"update each mutable field", s.update},
		{"drift is detected and corrected", s.drift},
		{"observe-only never writes", s.observeOnly},
		{"adopt by external name", s.adopt},
		{"a resource another object owns is refused even where adoption is allowed", s.ownership},
		{"delete with Orphan keeps the resource", s.orphan},
		{"resume after a crash between create and status write", s.crash},
		{"transient errors are retried", s.transient},
		{"refused credentials are a clear condition", s.badCredentials},
	} {
		t.Run(b.name, b.run)
	}
}

// secretKey matches the credentials keys whose values are secret.
var secretKey = regexp.MustCompile(`(?i)password|secret|private|json|token`)

type suite struct {
	h      *harness.Harness
	target Target
	ref    stratusv1alpha1.ProviderConfigReference
}

// providerConfig creates a ClusterProviderConfig for the target, with good
// or refused credentials.
func (s *suite) providerConfig(t *testing.T, name string, bad func() map[string][]byte, refused bool) stratusv1alpha1.ProviderConfigReference {
	t.Helper()
	spec, creds := s.target.ProviderConfig()
	if refused {
		creds = bad()
	}
	if creds != nil {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "stratus-system", Name: name}, Data: creds}
		s.h.Create(t, secret)
		spec.Credentials = stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret,
			SecretRef: &stratusv1alpha1.SecretReference{Namespace: "stratus-system", Name: name}}
	}
	// The platform team lets every namespace adopt through it: the suite
	// proves that drivers adopt, and that they refuse another owner's
	// resource even so.
	spec.Adoption = &stratusv1alpha1.NamespacePolicy{From: stratusv1alpha1.NamespacesFromAll}
	s.h.Create(t, &stratusv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec})
	return stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: name}
}

// externalName returns the name the operator gave obj in the cloud.
func externalName(obj harness.Managed) string {
	return obj.GetAnnotations()[stratusv1alpha1.AnnotationExternalName]
}

// read reads the cloud, failing the test on error.
func (s *suite) read(t *testing.T, name string) Cloud {
	t.Helper()
	c, err := s.target.Read(context.Background(), name)
	if err != nil {
		t.Fatalf("read %s from %s: %v", name, s.target.Name(), err)
	}
	return c
}

// matches reports how the cloud differs from what obj asks for.
func (s *suite) matches(t *testing.T, obj harness.Managed) error {
	c := s.read(t, externalName(obj))
	if !c.Exists {
		return fmt.Errorf("%s does not exist in %s", externalName(obj), s.target.Name())
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(s.target.Want(obj))) {
		if want := s.target.Want(obj)[k]; c.Fields[k] != want {
			diffs = append(diffs, fmt.Sprintf("%s: cloud %q, spec %q", k, c.Fields[k], want))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the cloud differs from the spec: %s", strings.Join(diffs, "; "))
	}
	return nil
}

// deleteAndWait deletes obj and waits until it is gone.
func (s *suite) deleteAndWait(t *testing.T, obj harness.Managed) {
	t.Helper()
	s.h.Delete(t, obj)
	s.h.WaitGone(t, obj)
}

func (s *suite) create(t *testing.T) {
	ns := s.h.Namespace(t)
	obj := s.target.New(ns, "full", s.ref)
	s.h.Create(t, obj)
	s.h.WaitReady(t, obj)
	if err := s.matches(t, obj); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.h.EventReasons(t, obj, s.target.Kind()), "CreatedExternalResource") {
		t.Errorf("no CreatedExternalResource event")
	}
	s.deleteAndWait(t, obj)
	if c := s.read(t, externalName(obj)); c.Exists {
		t.Errorf("%s still exists after deletion with policy Delete", externalName(obj))
	}
}

func (s *suite) update(t *testing.T) {
	ns := s.h.Namespace(t)
	obj := s.target.New(ns, "changing", s.ref)
	s.h.Create(t, obj)
	s.h.WaitReady(t, obj)
	for _, m := range s.target.Mutations() {
		harness.Update(t, s.h, obj, func(o harness.Managed) { m.Apply(o) })
		harness.Eventually(t, "update of "+m.Field+" applied", func() error {
			want := s.target.Want(obj)[m.Field]
			if got := s.read(t, externalName(obj)).Fields[m.Field]; got != want {
				return fmt.Errorf("%s is %q in the cloud, want %q", m.Field, got, want)
			}
			return nil
		})
	}
	s.h.WaitReady(t, obj)
	if err := s.matches(t, obj); err != nil {
		t.Error(err)
	}
	s.deleteAndWait(t, obj)
}

func (s *suite) drift(t *testing.T) {
	ns := s.h.Namespace(t)
	obj := s.target.New(ns, "drifting", s.ref)
	s.h.Create(t, obj)
	s.h.WaitReady(t, obj)
	field, err := s.target.Tamper(context.Background(), externalName(obj))
	if err != nil {
		t.Fatalf("tamper with %s: %v", externalName(obj), err)
	}
	note := s.h.WaitEvent(t, obj, s.target.Kind(), "DriftDetected")
	if !strings.Contains(note, field) {
		t.Errorf("DriftDetected %q does not name %s", note, field)
	}
	s.h.WaitEvent(t, obj, s.target.Kind(), "DriftCorrected")
	harness.Eventually(t, "drift corrected", func() error { return s.matches(t, obj) })
	s.h.WaitFor(t, obj, "lastDriftTime", func() error {
		if obj.ManagedStatus().LastDriftTime == nil {
			return fmt.Errorf("status.lastDriftTime not set")
		}
		return nil
	})
	s.deleteAndWait(t, obj)
}

// external creates a resource outside the operator and an object that
// names it.
func (s *suite) external(t *testing.T, ns, name string, policy stratusv1alpha1.ManagementPolicy) (harness.Managed, string) {
	t.Helper()
	ext := strings.ReplaceAll(ns+"-"+name, "_", "-")
	if s.target.Kind() == "Database" {
		ext = strings.ReplaceAll(ext, "-", "_")
	}
	if err := s.target.CreateExternal(context.Background(), ext); err != nil {
		t.Fatalf("create %s outside the operator: %v", ext, err)
	}
	harness.Eventually(t, ext+" exists", func() error {
		if !s.read(t, ext).Exists {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	obj := s.target.New(ns, name, s.ref)
	obj.SetAnnotations(map[string]string{stratusv1alpha1.AnnotationExternalName: ext})
	obj.ManagedSpec().ManagementPolicy = policy
	return obj, ext
}

func (s *suite) observeOnly(t *testing.T) {
	ns := s.h.Namespace(t)
	obj, ext := s.external(t, ns, "watched", stratusv1alpha1.ManagementObserveOnly)
	before := s.read(t, ext)
	s.h.Create(t, obj)
	s.h.WaitFor(t, obj, "observed", func() error {
		if err := harness.ConditionIs(obj, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonObserveOnly); err != nil {
			return err
		}
		if len(obj.ManagedStatus().Drift) == 0 {
			return fmt.Errorf("status.drift is empty: the spec asks for more than the cloud defaults")
		}
		return nil
	})
	time.Sleep(2 * harness.PollInterval) // a few more polls: still nothing written
	if after := s.read(t, ext); !maps.Equal(before.Fields, after.Fields) {
		t.Errorf("observe-only changed the resource: before %v, after %v", before.Fields, after.Fields)
	}
	s.deleteAndWait(t, obj)
	if !s.read(t, ext).Exists {
		t.Errorf("deleting an observe-only object deleted %s", ext)
	}
}

func (s *suite) adopt(t *testing.T) {
	ns := s.h.Namespace(t)
	obj, ext := s.external(t, ns, "adopted", stratusv1alpha1.ManagementFull)
	s.h.Create(t, obj)
	s.h.WaitReady(t, obj)
	if err := s.matches(t, obj); err != nil {
		t.Error(err)
	}
	if !slices.Contains(s.h.EventReasons(t, obj, s.target.Kind()), "AdoptedExternalResource") {
		t.Errorf("no AdoptedExternalResource event")
	}
	s.deleteAndWait(t, obj)
	if s.read(t, ext).Exists {
		t.Errorf("adopted %s was not deleted with policy Delete", ext)
	}
}

// ownership: a resource the operator created carries its object's owner
// mark in the cloud, so an object of another namespace that names it is
// refused, although the configuration lets every namespace adopt resources
// no object owns, and deleting that object leaves the resource alone.
func (s *suite) ownership(t *testing.T) {
	ownerNS := s.h.Namespace(t)
	owner := s.target.New(ownerNS, "owned", s.ref)
	s.h.Create(t, owner)
	s.h.WaitReady(t, owner)
	ext := externalName(owner)
	before := s.read(t, ext)

	ns := s.h.NamespaceNamed(t, ownerNS+"-other", nil)
	thief := s.target.New(ns, "thief", s.ref)
	thief.SetAnnotations(map[string]string{stratusv1alpha1.AnnotationExternalName: ext})
	for _, m := range s.target.Mutations() {
		m.Apply(thief) // asks for other settings than the owner's
	}
	s.h.Create(t, thief)
	s.h.WaitFor(t, thief, "refused", func() error {
		return harness.ConditionIs(thief, stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonNameConflict)
	})
	time.Sleep(2 * harness.PollInterval)
	if after := s.read(t, ext); !after.Exists || !maps.Equal(before.Fields, after.Fields) {
		t.Errorf("another object's refused claim changed %s: before %v, after %v", ext, before.Fields, after.Fields)
	}
	s.deleteAndWait(t, thief)
	if err := s.matches(t, owner); err != nil {
		t.Errorf("after the other object was deleted: %v", err)
	}
	s.deleteAndWait(t, owner)
}

func (s *suite) orphan(t *testing.T) {
	ns := s.h.Namespace(t)
	obj := s.target.New(ns, "kept", s.ref)
	obj.ManagedSpec().DeletionPolicy = stratusv1alpha1.DeletionOrphan
	s.h.Create(t, obj)
	s.h.WaitReady(t, obj)
	s.deleteAndWait(t, obj)
	if !s.read(t, externalName(obj)).Exists {
		t.Errorf("%s was deleted despite deletionPolicy Orphan", externalName(obj))
	}
}

// crash puts an object in the state a manager killed right after the cloud
// create leaves behind — the create intent recorded, the resource created,
// nothing else written — and checks that the operator finishes the job
// with exactly one resource.
func (s *suite) crash(t *testing.T) {
	ns := s.h.Namespace(t)
	obj, ext := s.external(t, ns, "resumed", stratusv1alpha1.ManagementFull)
	obj.SetAnnotations(map[string]string{
		stratusv1alpha1.AnnotationExternalName:  ext,
		stratusv1alpha1.AnnotationCreatePending: time.Now().UTC().Format(time.RFC3339),
	})
	obj.SetFinalizers([]string{stratusv1alpha1.Finalizer})
	s.h.Create(t, obj)
	s.h.WaitReady(t, obj)
	if err := s.matches(t, obj); err != nil {
		t.Error(err)
	}
	if n, err := s.target.Count(context.Background(), ext); err != nil || n != 1 {
		t.Errorf("%d resources named %s* after resuming (err %v), want exactly 1", n, ext, err)
	}
	if slices.Contains(s.h.EventReasons(t, obj, s.target.Kind()), "CreatedExternalResource") {
		t.Errorf("the operator created the resource again after the crash")
	}
	s.deleteAndWait(t, obj)
}

func (s *suite) transient(t *testing.T) {
	ns := s.h.Namespace(t)
	obj := s.target.New(ns, "flaky", s.ref)
	s.h.Create(t, obj)
	s.h.WaitReady(t, obj)
	if err := s.target.InjectTransient(context.Background()); err != nil {
		t.Fatalf("inject transient errors: %v", err)
	}
	s.h.WaitEvent(t, obj, s.target.Kind(), "CannotObserveExternalResource")
	s.h.WaitReady(t, obj)
	s.deleteAndWait(t, obj)
}

func (s *suite) badCredentials(t *testing.T) {
	ns := s.h.Namespace(t)
	ref := s.providerConfig(t, "refused-"+strings.ToLower(s.target.Name()), s.target.BadCredentials, true)
	obj := s.target.New(ns, "denied", ref)
	s.h.Create(t, obj)
	s.h.WaitFor(t, obj, "refused credentials reported", func() error {
		return harness.ConditionIs(obj, stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonBadCredentials)
	})
	for k, v := range s.target.BadCredentials() {
		if !secretKey.MatchString(k) {
			continue // a user name or access key ID is not a secret
		}
		if len(v) >= 8 && strings.Contains(harness.ConditionMessage(obj, stratusv1alpha1.ConditionSynced), string(v)) {
			t.Errorf("the Synced message shows the credential %q", k)
		}
	}
	// Still retried, not given up on, and the manager still serves others.
	other := s.target.New(ns, "unaffected", s.ref)
	s.h.Create(t, other)
	s.h.WaitReady(t, other)
	s.deleteAndWait(t, other)
}
