package engine

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
)

// Set holds guardrails by name. It is safe for concurrent use: Replace swaps
// the whole revision atomically and Evaluate always sees one complete
// revision. The zero value is an empty Set.
type Set struct {
	current atomic.Pointer[map[string]*Guardrail]
}

// NewSet returns a Set holding guardrails.
func NewSet(guardrails ...*Guardrail) (*Set, error) {
	s := &Set{}
	if err := s.Replace(guardrails...); err != nil {
		return nil, err
	}
	return s, nil
}

// Replace atomically replaces every guardrail in the set. It fails, leaving
// the set unchanged, if two guardrails share a name or one is nil.
func (s *Set) Replace(guardrails ...*Guardrail) error {
	m := make(map[string]*Guardrail, len(guardrails))
	for _, g := range guardrails {
		if g == nil {
			return fmt.Errorf("nil guardrail")
		}
		if _, dup := m[g.name]; dup {
			return fmt.Errorf("duplicate guardrail %q", g.name)
		}
		m[g.name] = g
	}
	s.current.Store(&m)
	return nil
}

// Get returns the guardrail called name in the current revision.
func (s *Set) Get(name string) (*Guardrail, bool) {
	m := s.current.Load()
	if m == nil {
		return nil, false
	}
	g, ok := (*m)[name]
	return g, ok
}

// Names returns the names of the current guardrails, sorted.
func (s *Set) Names() []string {
	m := s.current.Load()
	if m == nil {
		return nil
	}
	names := make([]string, 0, len(*m))
	for n := range *m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Evaluate judges one request against the named guardrails of the current
// revision, converting the input once. An unknown name is an error. The
// violations are returned in the order of names.
func (s *Set) Evaluate(ctx context.Context, names []string, in Input) ([]Violation, error) {
	m := s.current.Load()
	gs := make([]*Guardrail, 0, len(names))
	for _, n := range names {
		var g *Guardrail
		if m != nil {
			g = (*m)[n]
		}
		if g == nil {
			return nil, fmt.Errorf("unknown guardrail %q", n)
		}
		gs = append(gs, g)
	}
	p, err := Prepare(in)
	if err != nil {
		return nil, err
	}
	var out []Violation
	for _, g := range gs {
		vs, err := g.EvaluatePrepared(ctx, p)
		if err != nil {
			return out, err
		}
		out = append(out, vs...)
	}
	return out, nil
}
