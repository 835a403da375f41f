// Package guardrails holds the compiled Guardrails the admission webhook
// and the audit enforce, and judges an object by those that match it.
package guardrails

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/engine"
	"github.com/stratus-operator/stratus/policy/match"
)

// Entry is one compiled Guardrail. It is immutable once stored.
type Entry struct {
	// Name of the Guardrail.
	Name string
	// UID of the Guardrail.
	UID types.UID
	// Generation of the Guardrail that was compiled.
	Generation int64
	// Policy is the compiled and prepared Rego.
	Policy *engine.Guardrail
	// Matcher says which requests the Guardrail judges.
	Matcher *match.Matcher
	// Action is deny, warn or dryrun.
	Action policyv1alpha1.EnforcementAction
}

// Compile compiles a Guardrail into an Entry. Its error says what is wrong
// with the Rego, the parameters or the match.
func Compile(g *policyv1alpha1.Guardrail) (*Entry, error) {
	params, err := Parameters(g)
	if err != nil {
		return nil, err
	}
	m, err := match.New(g.Spec.Match)
	if err != nil {
		return nil, err
	}
	p, err := engine.Compile(g.Name, g.Spec.Rego, params)
	if err != nil {
		return nil, err
	}
	action := g.Spec.EnforcementAction
	if action == "" {
		action = policyv1alpha1.EnforcementDeny
	}
	return &Entry{Name: g.Name, UID: g.UID, Generation: g.Generation, Policy: p, Matcher: m, Action: action}, nil
}

// Store holds the compiled Guardrails by name. Readers get immutable
// snapshots, so a request in flight keeps the revision it started with.
type Store struct {
	mu       sync.Mutex // serialises writers
	current  atomic.Pointer[Snapshot]
	ready    atomic.Bool
	changed  chan struct{}
	revision atomic.Int64

	attemptsMu sync.Mutex
	attempts   map[string]Attempt // by name
}

// Attempt is a generation of a Guardrail that was compiled, whether it
// compiled or not.
type Attempt struct {
	UID        types.UID
	Generation int64
}

// NewStore returns an empty Store that is not ready yet.
func NewStore() *Store {
	s := &Store{changed: make(chan struct{}, 1), attempts: map[string]Attempt{}}
	s.current.Store(&Snapshot{})
	return s
}

// Snapshot is the set of Guardrails at one point, sorted by name.
type Snapshot struct {
	Entries []*Entry
}

// Snapshot returns the current Guardrails.
func (s *Store) Snapshot() *Snapshot { return s.current.Load() }

// Get returns the entry called name.
func (s *Store) Get(name string) (*Entry, bool) {
	for _, e := range s.Snapshot().Entries {
		if e.Name == name {
			return e, true
		}
	}
	return nil, false
}

// Put adds or replaces an entry.
func (s *Store) Put(e *Entry) {
	s.update(func(m map[string]*Entry) { m[e.Name] = e })
}

// Delete removes the entry called name, if any.
func (s *Store) Delete(name string) {
	s.update(func(m map[string]*Entry) { delete(m, name) })
}

func (s *Store) update(change func(map[string]*Entry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.current.Load()
	m := make(map[string]*Entry, len(old.Entries)+1)
	for _, e := range old.Entries {
		m[e.Name] = e
	}
	change(m)
	next := &Snapshot{Entries: make([]*Entry, 0, len(m))}
	for _, e := range m {
		next.Entries = append(next.Entries, e)
	}
	sort.Slice(next.Entries, func(i, j int) bool { return next.Entries[i].Name < next.Entries[j].Name })
	s.current.Store(next)
	s.revision.Add(1)
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Attempted records that a generation of the Guardrail called name was
// compiled, successfully or not.
func (s *Store) Attempted(name string, a Attempt) {
	s.attemptsMu.Lock()
	defer s.attemptsMu.Unlock()
	s.attempts[name] = a
}

// WasAttempted reports whether generation a of the Guardrail called name,
// or a later one, was compiled.
func (s *Store) WasAttempted(name string, a Attempt) bool {
	s.attemptsMu.Lock()
	defer s.attemptsMu.Unlock()
	got, ok := s.attempts[name]
	return ok && got.UID == a.UID && got.Generation >= a.Generation
}

// Forget drops what is known of the Guardrail called name.
func (s *Store) Forget(name string) {
	s.attemptsMu.Lock()
	delete(s.attempts, name)
	s.attemptsMu.Unlock()
	s.Delete(name)
}

// Changed is signalled, without blocking and coalesced, after every change.
func (s *Store) Changed() <-chan struct{} { return s.changed }

// Revision counts the changes so far.
func (s *Store) Revision() int64 { return s.revision.Load() }

// MarkReady records that every Guardrail that existed at start-up is in
// the store: until then the webhook cannot tell an allowed request from one
// no guardrail was loaded for.
func (s *Store) MarkReady() { s.ready.Store(true) }

// Ready reports whether the store was filled at start-up.
func (s *Store) Ready() bool { return s.ready.Load() }

// Finding is a violation with the action of the guardrail that found it.
type Finding struct {
	engine.Violation
	Action policyv1alpha1.EnforcementAction
}

// Failure is a Guardrail that could not judge a request: its Rego failed,
// exceeded a limit (engine.LimitError), or its match could not be decided.
type Failure struct {
	// Guardrail is the name of the Guardrail.
	Guardrail string
	// Action is what the Guardrail does with a violation.
	Action policyv1alpha1.EnforcementAction
	// Err says what went wrong; it names the Guardrail.
	Err error
	// Rego is set when the Guardrail's own Rego failed (an error, a
	// limit), rather than the caller's deadline or the match.
	Rego bool
}

// Judge evaluates the entries that match req against in. nsLabels gives
// namespace labels for entries with a namespace selector. A Guardrail that
// fails is reported in failures and the others are still evaluated; err is
// for what stops them all (an input that cannot be read).
func (sn *Snapshot) Judge(ctx context.Context, req match.Request, in engine.Input, nsLabels match.NamespaceLabels) (findings []Finding, failures []Failure, err error) {
	var prepared *engine.PreparedInput
	for _, e := range sn.Entries {
		ok, err := e.Matcher.Matches(req, nsLabels)
		if err != nil {
			failures = append(failures, Failure{Guardrail: e.Name, Action: e.Action, Err: fmt.Errorf("guardrail %q: %w", e.Name, err)})
			continue
		}
		if !ok {
			continue
		}
		if prepared == nil {
			if prepared, err = engine.Prepare(in); err != nil {
				return nil, nil, err
			}
		}
		vs, err := e.Policy.EvaluatePrepared(ctx, prepared)
		if err != nil {
			own := ctx.Err() == nil || errors.As(err, new(*engine.LimitError))
			failures = append(failures, Failure{Guardrail: e.Name, Action: e.Action, Err: err, Rego: own})
			continue
		}
		for _, v := range vs {
			findings = append(findings, Finding{Violation: v, Action: e.Action})
		}
	}
	return findings, failures, nil
}

// NamespaceInput is what the guardrails see of a Namespace as
// input.namespace: its name and labels, which only the platform team sets.
func NamespaceInput(ns *corev1.Namespace) map[string]any {
	labels := make(map[string]any, len(ns.Labels))
	for k, v := range ns.Labels {
		labels[k] = v
	}
	return map[string]any{"metadata": map[string]any{"name": ns.Name, "labels": labels}}
}
