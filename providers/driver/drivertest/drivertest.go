// Package drivertest is one suite of driver-level tests that every driver
// runs against its real server (or the emulator or fake that stands for
// it): the contract of package driver, checked on a client with no
// reconciler in between. A driver plugs in with a small Harness that
// connects it and reaches the server behind its back with the provider's
// plain SDK (read back, tamper, mark), as Go CDK's drivertest packages do.
//
// The behaviours: create and read back every portable field (Create is
// idempotent, changes nothing it did not create, and what it says it
// observed is what Observe reads), update each mutable field, drift
// reported and corrected, delete (idempotent), a resource that does not
// exist, throttling, refused credentials, and ownership (Create stamps the
// owner mark, Observe reports another owner's, Update stamps an unmarked
// resource, a request without an owner changes no mark).
//
// The suite is for drivers whose cloud creates and changes synchronously;
// a resource that is being deleted in the background is observed until it
// is gone.
package drivertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/test/faults"
)

// Resource is what the server holds for one resource, as the provider's
// plain SDK reads it.
type Resource struct {
	// Exists is true when the resource exists.
	Exists bool
	// Fields are its portable fields keyed by spec path, such as
	// "spec.versioning", in the harness's words (the same as Want's).
	Fields map[string]string
	// Owner is the owner mark it carries.
	Owner driver.OwnerMark
}

// Mutation changes one mutable field of an object.
type Mutation[T driver.Managed] struct {
	// Field is the spec path it changes: the drift field Observe reports.
	Field string
	// Apply changes it.
	Apply func(T)
}

// Credentials are credentials the server refuses.
type Credentials struct {
	// Name says what is wrong with them.
	Name string
	// Data is what a credentials Secret would hold.
	Data map[string][]byte
	// Secrets are the pieces of Data that no error may hold.
	Secrets []string
}

// Harness connects one driver to its server for the suite, and reaches the
// server behind the driver's back. Methods that take t fail it when the
// server cannot be reached.
type Harness[T driver.Managed] interface {
	// Config returns a provider configuration of the server with
	// credentials it accepts.
	Config(t *testing.T) driver.Config
	// Connect connects the driver under test with cfg, as the reconciler
	// does. The suite closes clients that implement io.Closer.
	Connect(t *testing.T, cfg driver.Config) (driver.Client[T], error)
	// BadCredentials returns credentials the server refuses.
	BadCredentials(t *testing.T) []Credentials
	// Throttling is the cloud's answer to a caller that must slow down (S3's
	// 503 SlowDown, a Google API's 429). The suite points a configuration at
	// a server that gives it to every request. The zero Response skips the
	// behaviour, for a cloud that has no such answer.
	Throttling() faults.Response

	// New returns an object named name with every portable field the driver
	// honours set.
	New(name string) T
	// Request returns the request the reconciler makes to sync obj: its
	// external name, region, connection details (a generated password, if
	// the driver needs one) and owner.
	Request(obj T) driver.Request[T]
	// Mutations change each mutable field.
	Mutations() []Mutation[T]
	// Want returns the portable fields obj asks for, keyed like Read's.
	Want(obj T) map[string]string

	// Read reads the resource named externalName.
	Read(t *testing.T, externalName string) Resource
	// Tamper changes the resource behind the driver's back and returns the
	// spec path it changed.
	Tamper(t *testing.T, externalName string) string
	// Mark replaces the owner mark of the resource with owner's, or removes
	// it for the zero Owner, keeping everything else.
	Mark(t *testing.T, externalName string, owner driver.Owner)
}

// other is another object's identity, in another cluster, whose mark the
// ownership behaviours write. Its names are valid label values everywhere.
var other = driver.Owner{Cluster: "drivertest-elsewhere", Namespace: "elsewhere", Name: "someone-else", UID: "0f0f0f0f-1111-2222-3333-444455556666"}

// namePrefix starts the name of every object the suite makes, so that it
// shares a server with the driver's other tests.
const namePrefix = "drivertest-"

// Run runs every behaviour against h, in parallel subtests.
func Run[T driver.Managed](t *testing.T, h Harness[T]) {
	s := suite[T]{h: h}
	for _, b := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"create reads back every portable field", s.create},
		{"update each mutable field", s.update},
		{"drift is reported and corrected", s.drift},
		{"delete", s.delete},
		{"a resource that does not exist", s.notFound},
		{"throttling", s.throttled},
		{"refused credentials", s.badCredentials},
		{"create changes nothing of an existing resource, whoever owns it", s.createOverExisting},
		{"ownership: observe reports another owner's mark, update replaces it", s.otherOwner},
		{"ownership: update stamps an unmarked resource", s.unmarked},
		{"ownership: a request without an owner changes no mark", s.unknownOwner},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.run(t)
		})
	}
}

type suite[T driver.Managed] struct {
	h Harness[T]
}

// connect connects with the harness's good credentials.
func (s suite[T]) connect(t *testing.T) driver.Client[T] {
	t.Helper()
	c, err := s.h.Connect(t, s.h.Config(t))
	if err != nil {
		t.Fatalf("Connect(...): %v", err)
	}
	closeAtCleanup(t, c)
	return c
}

func closeAtCleanup(t *testing.T, c any) {
	if closer, ok := c.(io.Closer); ok {
		t.Cleanup(func() { _ = closer.Close() })
	}
}

// request returns the sync request for a new object named after the
// behaviour.
func (s suite[T]) request(name string) driver.Request[T] {
	return s.h.Request(s.h.New(namePrefix + name))
}

// observe observes, failing the test on error.
func (s suite[T]) observe(t *testing.T, c driver.Client[T], req driver.Request[T]) driver.Observation {
	t.Helper()
	obs, err := c.Observe(t.Context(), req)
	if err != nil {
		t.Fatalf("Observe(%s, %s, known %t): %v", req.ExternalName, req.Purpose, req.Known, err)
	}
	return obs
}

func (s suite[T]) create(t *testing.T) {
	c := s.connect(t)
	req := s.request("create")
	if obs := s.observe(t, c, req); obs.Exists {
		t.Fatalf("Observe(...) before Create: %+v; want a resource that does not exist", obs)
	}
	res, err := c.Create(t.Context(), req)
	if err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	afterCreate := asJSON(t, req.Object)
	got := s.h.Read(t, req.ExternalName)
	s.matches(t, "after Create", req, got)
	if got.Owner.ID != req.Owner.ID() {
		t.Errorf("the owner mark after Create = %+v; want the request's owner's, %s", got.Owner, req.Owner.ID())
	}

	obs := s.observe(t, c, req)
	if !obs.Exists || !obs.Available || !obs.UpToDate() {
		t.Errorf("Observe(...) after Create: exists %t, available %t, drift %+v; want an available resource in line with the spec", obs.Exists, obs.Available, obs.Drift)
	}
	if diff := cmp.Diff(got.Owner, obs.Owner); diff != "" {
		t.Errorf("Observe(...) owner mark: the cloud's -, Observe's +:\n%s", diff)
	}
	for k, v := range res.Connection {
		if w, ok := obs.Connection[k]; !ok || string(w) != string(v) {
			t.Errorf("Create(...) connection detail %s = %q; Observe(...) says %q", k, v, w)
		}
	}
	if res.Observed != nil {
		// What Create says it observed is what Observe reads, by each of its
		// paths, status.atProvider included.
		for _, known := range []bool{false, true} {
			fresh := s.request("create")
			fresh.Known = known
			if diff := cmp.Diff(s.observe(t, c, fresh), *res.Observed); diff != "" {
				t.Errorf("Create(...) observed (known %t): Observe's -, Create's +:\n%s", known, diff)
			}
			if diff := cmp.Diff(asJSON(t, fresh.Object), afterCreate); diff != "" {
				t.Errorf("the object after Create (known %t): Observe's -, Create's +:\n%s", known, diff)
			}
		}
	}
}

// matches fails the test when what the cloud holds is not what req asks.
func (s suite[T]) matches(t *testing.T, when string, req driver.Request[T], got Resource) {
	t.Helper()
	if !got.Exists {
		t.Fatalf("%s: %s does not exist", when, req.ExternalName)
	}
	if diff := cmp.Diff(s.h.Want(req.Object), got.Fields); diff != "" {
		t.Errorf("%s: the portable fields, the spec's -, the cloud's +:\n%s", when, diff)
	}
}

// created returns a client and the request of a resource it created.
func (s suite[T]) created(t *testing.T, name string) (driver.Client[T], driver.Request[T]) {
	t.Helper()
	c := s.connect(t)
	req := s.request(name)
	if _, err := c.Create(t.Context(), req); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	return c, req
}

// sync brings the resource in line with req with Update, as the reconciler
// does once it observed drift, and checks that it is.
func (s suite[T]) sync(t *testing.T, c driver.Client[T], req driver.Request[T], why string) {
	t.Helper()
	if _, err := c.Update(t.Context(), req); err != nil {
		t.Fatalf("Update(...) %s: %v", why, err)
	}
	s.matches(t, "after Update "+why, req, s.h.Read(t, req.ExternalName))
	if obs := s.observe(t, c, req); !obs.UpToDate() || obs.Owner.ID != req.Owner.ID() {
		t.Errorf("Observe(...) after Update %s: drift %+v, owner %+v; want none, and the request's owner", why, obs.Drift, obs.Owner)
	}
}

// drifted fails the test unless obs reports drift in field.
func drifted(t *testing.T, obs driver.Observation, field, why string) {
	t.Helper()
	if !slices.ContainsFunc(obs.Drift, func(d stratusv1alpha1.DriftedField) bool { return d.Field == field }) {
		t.Errorf("Observe(...) %s: drift %+v; want %s among it", why, obs.Drift, field)
	}
}

func (s suite[T]) update(t *testing.T) {
	c, req := s.created(t, "update")
	for _, m := range s.h.Mutations() {
		m.Apply(req.Object)
		drifted(t, s.observe(t, c, req), m.Field, "after the spec changed "+m.Field)
		s.sync(t, c, req, "of "+m.Field)
	}
}

func (s suite[T]) drift(t *testing.T) {
	c, req := s.created(t, "drift")
	field := s.h.Tamper(t, req.ExternalName)
	obs := s.observe(t, c, req)
	drifted(t, obs, field, "after "+field+" changed behind the driver's back")
	if obs.Owner.ID != req.Owner.ID() {
		t.Errorf("Observe(...) after the change: owner %+v; want the request's owner's", obs.Owner)
	}
	s.sync(t, c, req, "of the drift")
}

// goneWithin bounds the wait for a deletion the cloud finishes in the
// background.
const goneWithin = 30 * time.Second

func (s suite[T]) delete(t *testing.T) {
	c, req := s.created(t, "delete")
	del := req
	del.Purpose = driver.PurposeDelete
	res, err := c.Delete(t.Context(), del)
	if err != nil {
		t.Fatalf("Delete(...): %v", err)
	}
	if res.Gone {
		if got := s.h.Read(t, req.ExternalName); got.Exists {
			t.Fatalf("Delete(...) said gone, and %s exists: %+v", req.ExternalName, got)
		}
	}
	for deadline := time.Now().Add(goneWithin); s.observe(t, c, del).Exists; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists %v after Delete(...)", req.ExternalName, goneWithin)
		}
	}
	if got := s.h.Read(t, req.ExternalName); got.Exists {
		t.Errorf("Observe(...) says %s is gone, and it exists: %+v", req.ExternalName, got)
	}
	if _, err := c.Delete(t.Context(), del); err != nil {
		t.Errorf("Delete(...) of a resource that is gone: %v", err)
	}
}

// requests returns req for every purpose and knowledge the reconciler asks
// with, named for messages.
func requests[T driver.Managed](req driver.Request[T]) map[string]driver.Request[T] {
	known, del := req, req
	known.Known = true
	del.Purpose, del.Known = driver.PurposeDelete, true
	return map[string]driver.Request[T]{"sync": req, "sync, known": known, "delete": del}
}

func (s suite[T]) notFound(t *testing.T) {
	c := s.connect(t)
	req := s.request("not-found")
	for name, r := range requests(req) {
		if obs := s.observe(t, c, r); obs.Exists {
			t.Errorf("Observe(...) (%s) of a resource that does not exist: %+v", name, obs)
		}
	}
	if _, err := c.Delete(t.Context(), req); err != nil {
		t.Errorf("Delete(...) of a resource that does not exist: %v", err)
	}
	if got := s.h.Read(t, req.ExternalName); got.Exists {
		t.Errorf("%s exists after Observe and Delete: %+v", req.ExternalName, got)
	}
}

// calls returns every call of a client on an existing resource and a
// missing one, named for messages.
func calls[T driver.Managed](t *testing.T, c driver.Client[T], existing, missing driver.Request[T]) map[string]func() error {
	out := map[string]func() error{
		"Create": func() error { _, err := c.Create(t.Context(), missing); return err },
		"Update": func() error { _, err := c.Update(t.Context(), existing); return err },
		"Delete": func() error { _, err := c.Delete(t.Context(), existing); return err },
	}
	for which, req := range map[string]driver.Request[T]{"existing": existing, "missing": missing} {
		for name, r := range requests(req) {
			out["Observe "+which+" ("+name+")"] = func() error { _, err := c.Observe(t.Context(), r); return err }
		}
	}
	return out
}

func (s suite[T]) throttled(t *testing.T) {
	answer := s.h.Throttling()
	if answer.Status == 0 {
		t.Skip("the cloud has no throttling answer")
	}
	// Every request is answered so, however many times the client retries.
	injector := &faults.Injector{}
	injector.FailNext(1<<30, answer)
	srv := httptest.NewServer(injector.Wrap(http.NotFoundHandler()))
	t.Cleanup(srv.Close)

	cfg := s.h.Config(t)
	cfg.Spec.Endpoint = srv.URL
	c, err := s.h.Connect(t, cfg)
	if err != nil {
		if !driver.IsThrottled(err) {
			t.Fatalf("Connect(...) to a throttling server: %v; want no error or a Throttled one", err)
		}
		return
	}
	closeAtCleanup(t, c)
	req := s.request("throttled")
	for name, call := range calls(t, c, req, req) {
		if err := call(); !driver.IsThrottled(err) {
			t.Errorf("%s, throttled: %v; want a Throttled error", name, err)
		}
	}
}

func (s suite[T]) badCredentials(t *testing.T) {
	good, existing := s.created(t, "bad-credentials")
	missing := s.request("bad-credentials-missing")
	before := s.h.Read(t, existing.ExternalName)
	for _, creds := range s.h.BadCredentials(t) {
		t.Run(creds.Name, func(t *testing.T) {
			cfg := s.h.Config(t)
			cfg.Credentials = creds.Data
			leaks := func(call string, err error) {
				for _, secret := range creds.Secrets {
					if secret != "" && strings.Contains(err.Error(), secret) {
						t.Errorf("%s: the error %q holds a secret of the credentials", call, err)
					}
				}
			}
			c, err := s.h.Connect(t, cfg)
			if err != nil {
				if !driver.IsBadCredentials(err) {
					t.Errorf("Connect(...): %v; want no error or a BadCredentials one", err)
				}
				leaks("Connect", err)
				return
			}
			closeAtCleanup(t, c)
			for name, call := range calls(t, c, existing, missing) {
				err := call()
				if !driver.IsBadCredentials(err) {
					t.Errorf("%s: %v; want a BadCredentials error", name, err)
					continue
				}
				leaks(name, err)
			}
		})
	}
	if diff := cmp.Diff(before, s.h.Read(t, existing.ExternalName)); diff != "" {
		t.Errorf("the resource changed through refused credentials: -before, +after:\n%s", diff)
	}
	if got := s.h.Read(t, missing.ExternalName); got.Exists {
		t.Errorf("%s was created through refused credentials", missing.ExternalName)
	}
	if obs := s.observe(t, good, existing); !obs.Exists {
		t.Errorf("Observe(...) with good credentials after refused ones: %+v", obs)
	}
}

// createOverExisting checks that Create of a resource that exists, whoever
// owns it, succeeds, changes nothing (not even to another spec) and vouches
// for nothing: the reconciler observes it and checks its mark.
func (s suite[T]) createOverExisting(t *testing.T) {
	c := s.connect(t)
	for name, markedBy := range map[string]func(own driver.Owner) driver.Owner{
		"own":      func(own driver.Owner) driver.Owner { return own },
		"other":    func(driver.Owner) driver.Owner { return other },
		"unmarked": func(driver.Owner) driver.Owner { return driver.Owner{} },
	} {
		t.Run(name, func(t *testing.T) {
			existing := s.request("create-over-" + name)
			if _, err := c.Create(t.Context(), existing); err != nil {
				t.Fatalf("Create(...): %v", err)
			}
			owner := markedBy(existing.Owner)
			s.h.Mark(t, existing.ExternalName, owner)
			before := s.h.Read(t, existing.ExternalName)
			if want := markID(owner); before.Owner.ID != want {
				t.Fatalf("the owner mark after Mark(...) = %+v; want the ID %q", before.Owner, want)
			}

			mine := s.request("create-over-" + name)
			for _, m := range s.h.Mutations() {
				m.Apply(mine.Object) // a spec unlike the resource's
			}
			res, err := c.Create(t.Context(), mine)
			if err != nil {
				t.Fatalf("Create(...) over an existing resource: %v; want no error", err)
			}
			if res.Observed != nil {
				t.Errorf("Create(...) over an existing resource observed %+v; want nothing vouched for", *res.Observed)
			}
			if diff := cmp.Diff(before, s.h.Read(t, existing.ExternalName)); diff != "" {
				t.Errorf("Create(...) over an existing resource changed it: -before, +after:\n%s", diff)
			}
		})
	}
}

func (s suite[T]) otherOwner(t *testing.T) {
	c, req := s.created(t, "other-owner")
	s.h.Mark(t, req.ExternalName, other)
	marked := s.h.Read(t, req.ExternalName).Owner
	if marked.ID != other.ID() {
		t.Fatalf("the owner mark after Mark(...) = %+v; want the other object's", marked)
	}
	for name, r := range requests(req) {
		obs := s.observe(t, c, r)
		if diff := cmp.Diff(marked, obs.Owner); diff != "" {
			t.Errorf("Observe(...) (%s) owner mark: the cloud's -, Observe's +:\n%s", name, diff)
		}
		want := stratusv1alpha1.DriftedField{Field: driver.OwnershipField, Desired: req.Owner.ID(), Observed: other.ID()}
		if !slices.Contains(obs.Drift, want) {
			t.Errorf("Observe(...) (%s): drift %+v; want %+v among it", name, obs.Drift, want)
		}
	}
	// Once the reconciler found the mark stale (an object of this cluster
	// that is gone), Update writes the request's.
	s.sync(t, c, req, "over another object's mark")
}

func (s suite[T]) unmarked(t *testing.T) {
	c, req := s.created(t, "unmarked")
	s.h.Mark(t, req.ExternalName, driver.Owner{})
	if got := s.h.Read(t, req.ExternalName).Owner; got.Marked() {
		t.Fatalf("the owner mark after Mark(...) of no owner = %+v; want none", got)
	}
	obs := s.observe(t, c, req)
	want := stratusv1alpha1.DriftedField{Field: driver.OwnershipField, Desired: req.Owner.ID(), Observed: driver.NoValue}
	if obs.Owner.Marked() || !slices.Contains(obs.Drift, want) {
		t.Errorf("Observe(...) of an unmarked resource: owner %+v, drift %+v; want no mark, and %+v among the drift", obs.Owner, obs.Drift, want)
	}
	s.sync(t, c, req, "of an unmarked resource")
	if got := s.h.Read(t, req.ExternalName).Owner; got.ID != req.Owner.ID() {
		t.Errorf("the owner mark after Update(...) = %+v; want the request's owner's", got)
	}
}

func (s suite[T]) unknownOwner(t *testing.T) {
	c, req := s.created(t, "unknown-owner")
	s.h.Mark(t, req.ExternalName, other)
	before := s.h.Read(t, req.ExternalName).Owner
	unknown := req
	unknown.Owner = driver.Owner{}
	// A driver may refuse such a request; one that serves it reports no
	// ownership drift, and neither writes nor removes a mark.
	if obs, err := c.Observe(t.Context(), unknown); err == nil {
		for _, d := range obs.Drift {
			if d.Field == driver.OwnershipField {
				t.Errorf("Observe(...) without an owner reports ownership drift %+v", d)
			}
		}
	}
	_, _ = c.Update(t.Context(), unknown)
	if diff := cmp.Diff(before, s.h.Read(t, req.ExternalName).Owner); diff != "" {
		t.Errorf("Update(...) without an owner changed the mark: -before, +after:\n%s", diff)
	}
}

// markID is the ID of owner's mark, "" for no owner.
func markID(owner driver.Owner) string {
	if !owner.Known() {
		return ""
	}
	return owner.ID()
}

// asJSON returns the JSON form of v, to compare objects whose times cmp
// cannot.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal %T: %v", v, err)
	}
	return m
}
