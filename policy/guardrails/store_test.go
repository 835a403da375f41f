package guardrails

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/engine"
	"github.com/stratus-operator/stratus/policy/match"
)

const publicModule = `package t.public

violation contains {"msg": "spec.publicAccess must be Blocked", "field": "spec.publicAccess"} if {
	input.object.spec.publicAccess == "Allowed"
}
`

const regionModule = `package t.region

violation contains {"msg": msg} if {
	not input.object.spec.region in input.parameters.regions
	msg := sprintf("spec.region %v is not allowed", [input.object.spec.region])
}
`

const alwaysModule = `package t.always

violation contains {"msg": "always"} if { true }
`

// conflictModule fails at run time: its rule has two values.
const conflictModule = `package t.conflict

kind := input.object.kind
kind := "other"

violation contains {"msg": kind} if { true }
`

// loopModule exceeds its evaluation limits.
const loopModule = `package t.loop

violation contains {"msg": "never"} if {
	count([[i, j] | some i in numbers.range(1, 1000); some j in numbers.range(1, 1000)]) < 0
}
`

var bucketGK = schema.GroupKind{Group: "storage.stratus.dev", Kind: "Bucket"}

// guardrail returns a Guardrail called name judging Buckets with module.
func guardrail(name, module string) *policyv1alpha1.Guardrail {
	return &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego: module,
			Match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{
				{APIGroups: []string{"storage.stratus.dev"}, Kinds: []string{"Bucket"}},
			}},
		},
	}
}

// mustCompile compiles g or fails the test.
func mustCompile(t testing.TB, g *policyv1alpha1.Guardrail) *Entry {
	t.Helper()
	e, err := Compile(g)
	if err != nil {
		t.Fatalf("Compile(%s): %v", g.Name, err)
	}
	return e
}

// bucket is a Bucket in team-a with the spec given.
func bucket(spec map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "storage.stratus.dev/v1alpha1",
		"kind":       "Bucket",
		"metadata":   map[string]any{"name": "logs", "namespace": "team-a"},
		"spec":       spec,
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name        string
		change      func(*policyv1alpha1.Guardrail)
		wantErr     string
		wantCompile bool // the error is an *engine.CompileError
		wantAction  policyv1alpha1.EnforcementAction
	}{
		{name: "defaults to deny", wantAction: policyv1alpha1.EnforcementDeny},
		{name: "warn", change: func(g *policyv1alpha1.Guardrail) { g.Spec.EnforcementAction = policyv1alpha1.EnforcementWarn },
			wantAction: policyv1alpha1.EnforcementWarn},
		{name: "dryrun", change: func(g *policyv1alpha1.Guardrail) { g.Spec.EnforcementAction = policyv1alpha1.EnforcementDryRun },
			wantAction: policyv1alpha1.EnforcementDryRun},
		{name: "parameters object", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Rego = regionModule
			g.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`{"regions":["eu-west-1"]}`)}
		}, wantAction: policyv1alpha1.EnforcementDeny},
		{name: "empty parameters", change: func(g *policyv1alpha1.Guardrail) { g.Spec.Parameters = &runtime.RawExtension{} },
			wantAction: policyv1alpha1.EnforcementDeny},
		{name: "bad rego", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Rego = "package bad\n\nviolation contains msg if {\n\tmsg := )\n}\n"
		}, wantErr: "bad.rego:4:", wantCompile: true},
		{name: "unsafe rego", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Rego = "package bad\n\nviolation contains {\"msg\": \"x\"} if {\n\tx == 1\n}\n"
		}, wantErr: "bad.rego:4:", wantCompile: true},
		{name: "no violation rule", change: func(g *policyv1alpha1.Guardrail) { g.Spec.Rego = "package bad\n\nallow := true\n" },
			wantErr: "module does not define a violation rule", wantCompile: true},
		{name: "parameters an array", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`["eu-west-1"]`)}
		}, wantErr: "spec.parameters must be an object"},
		{name: "parameters a string", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`"eu-west-1"`)}
		}, wantErr: "spec.parameters must be an object"},
		{name: "parameters not JSON", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`{regions:`)}
		}, wantErr: "spec.parameters must be an object"},
		{name: "bad label selector", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Match.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Sometimes"}}}
		}, wantErr: "match.labelSelector:"},
		{name: "bad namespace selector", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Match.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "not valid"}}
		}, wantErr: "match.namespaceSelector:"},
		{name: "no kinds", change: func(g *policyv1alpha1.Guardrail) { g.Spec.Match.Kinds = nil }, wantErr: "match.kinds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := guardrail("bad", publicModule)
			g.Generation = 7
			g.UID = "u-7"
			if tt.change != nil {
				tt.change(g)
			}
			e, err := Compile(g)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Compile error = %v, want one containing %q", err, tt.wantErr)
				}
				var ce *engine.CompileError
				if got := errors.As(err, &ce); got != tt.wantCompile {
					t.Errorf("error is a CompileError: %v, want %v (%v)", got, tt.wantCompile, err)
				}
				if e != nil {
					t.Error("Compile returned an entry with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if e.Name != "bad" || e.UID != "u-7" || e.Generation != 7 {
				t.Errorf("entry is %s %s %d, want bad u-7 7", e.Name, e.UID, e.Generation)
			}
			if e.Action != tt.wantAction {
				t.Errorf("Action = %q, want %q", e.Action, tt.wantAction)
			}
			if e.Policy == nil || e.Matcher == nil {
				t.Error("entry lacks its policy or matcher")
			}
		})
	}
}

func TestParameters(t *testing.T) {
	tests := []struct {
		name    string
		raw     *runtime.RawExtension
		want    map[string]any
		wantErr bool
	}{
		{name: "none", want: map[string]any{}},
		{name: "empty raw", raw: &runtime.RawExtension{}, want: map[string]any{}},
		{name: "object", raw: &runtime.RawExtension{Raw: []byte(`{"max":10,"names":["a"]}`)}, want: map[string]any{"max": float64(10), "names": []any{"a"}}},
		{name: "null", raw: &runtime.RawExtension{Raw: []byte(`null`)}, want: nil},
		{name: "number", raw: &runtime.RawExtension{Raw: []byte(`3`)}, wantErr: true},
		{name: "truncated", raw: &runtime.RawExtension{Raw: []byte(`{"max":`)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := guardrail("p", publicModule)
			g.Spec.Parameters = tt.raw
			got, err := Parameters(g)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parameters = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parameters: %v", err)
			}
			// nil and empty are alike: the engine gives {} for both.
			if len(got) != len(tt.want) || (len(got) > 0 && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("Parameters = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestNoParametersAreAnEmptyObject checks that a policy sees {} as
// input.parameters whether parameters are absent, empty or null.
func TestNoParametersAreAnEmptyObject(t *testing.T) {
	const module = `package t.params

violation contains {"msg": "input.parameters is not {}"} if { input.parameters != {} }
`
	for name, raw := range map[string]*runtime.RawExtension{
		"absent": nil,
		"empty":  {},
		"null":   {Raw: []byte("null")},
		"{}":     {Raw: []byte("{}")},
	} {
		g := guardrail("params", module)
		g.Spec.Parameters = raw
		s := NewStore()
		s.Put(mustCompile(t, g))
		fs, failures, err := s.Snapshot().Judge(context.Background(), match.Request{GroupKind: bucketGK, Operation: "CREATE"}, engine.Input{Object: bucket(nil)}, nil)
		if err != nil || len(failures) > 0 {
			t.Fatalf("%s: %v %v", name, err, failures)
		}
		if len(fs) != 0 {
			t.Errorf("%s: %v", name, fs)
		}
	}
}

// TestParametersReachThePolicy checks that parameters are input.parameters.
func TestParametersReachThePolicy(t *testing.T) {
	g := guardrail("regions", regionModule)
	g.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`{"regions":["eu-west-1"]}`)}
	s := NewStore()
	s.Put(mustCompile(t, g))
	req := match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}
	for region, want := range map[string]int{"eu-west-1": 0, "us-east-1": 1} {
		fs, failures, err := s.Snapshot().Judge(context.Background(), req, engine.Input{Object: bucket(map[string]any{"region": region}), Operation: "CREATE"}, nil)
		if err != nil || len(failures) > 0 {
			t.Fatal(err, failures)
		}
		if len(fs) != want {
			t.Errorf("region %s: %d findings, want %d: %v", region, len(fs), want, fs)
		}
	}
}

func names(sn *Snapshot) []string {
	out := []string{}
	for _, e := range sn.Entries {
		out = append(out, e.Name)
	}
	return out
}

func TestStore(t *testing.T) {
	s := NewStore()
	if s.Ready() {
		t.Fatal("a new store is ready")
	}
	if s.Revision() != 0 || len(s.Snapshot().Entries) != 0 {
		t.Fatalf("a new store has revision %d and %d entries", s.Revision(), len(s.Snapshot().Entries))
	}
	if _, ok := s.Get("a"); ok {
		t.Fatal("Get found an entry in an empty store")
	}

	c := mustCompile(t, guardrail("c", publicModule))
	a := mustCompile(t, guardrail("a", publicModule))
	b := mustCompile(t, guardrail("b", publicModule))
	a2 := mustCompile(t, guardrail("a", alwaysModule))

	steps := []struct {
		name      string
		do        func()
		want      []string
		wantRev   int64
		wantEntry map[string]*Entry
	}{
		{name: "put c", do: func() { s.Put(c) }, want: []string{"c"}, wantRev: 1, wantEntry: map[string]*Entry{"c": c}},
		{name: "put a", do: func() { s.Put(a) }, want: []string{"a", "c"}, wantRev: 2},
		{name: "put b", do: func() { s.Put(b) }, want: []string{"a", "b", "c"}, wantRev: 3, wantEntry: map[string]*Entry{"a": a, "b": b, "c": c}},
		{name: "replace a", do: func() { s.Put(a2) }, want: []string{"a", "b", "c"}, wantRev: 4, wantEntry: map[string]*Entry{"a": a2}},
		{name: "delete b", do: func() { s.Delete("b") }, want: []string{"a", "c"}, wantRev: 5, wantEntry: map[string]*Entry{"b": nil}},
		// Deleting what is not there is still a revision.
		{name: "delete missing", do: func() { s.Delete("zz") }, want: []string{"a", "c"}, wantRev: 6},
		{name: "delete all", do: func() { s.Delete("a"); s.Delete("c") }, want: []string{}, wantRev: 8, wantEntry: map[string]*Entry{"a": nil, "c": nil}},
	}
	for _, st := range steps {
		before := s.Snapshot()
		beforeNames := names(before)
		st.do()
		if got := names(s.Snapshot()); !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: entries %v, want %v", st.name, got, st.want)
		}
		if got := s.Revision(); got != st.wantRev {
			t.Errorf("%s: revision %d, want %d", st.name, got, st.wantRev)
		}
		// A snapshot taken before is immutable.
		if got := names(before); !reflect.DeepEqual(got, beforeNames) {
			t.Errorf("%s: an earlier snapshot changed from %v to %v", st.name, beforeNames, got)
		}
		for name, want := range st.wantEntry {
			got, ok := s.Get(name)
			if ok != (want != nil) || got != want {
				t.Errorf("%s: Get(%s) = %p, %v, want %p", st.name, name, got, ok, want)
			}
		}
	}

	s.MarkReady()
	if !s.Ready() {
		t.Fatal("MarkReady did not make the store ready")
	}
}

func TestChangedCoalesces(t *testing.T) {
	s := NewStore()
	select {
	case <-s.Changed():
		t.Fatal("a new store signals a change")
	default:
	}
	e := mustCompile(t, guardrail("a", publicModule))
	// Many changes without a reader neither block nor queue up.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			s.Put(e)
			s.Delete("a")
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writers blocked on Changed")
	}
	select {
	case <-s.Changed():
	default:
		t.Fatal("no change signalled")
	}
	select {
	case <-s.Changed():
		t.Fatal("200 changes were signalled more than once")
	default:
	}
	if got := s.Revision(); got != 200 {
		t.Errorf("revision %d, want 200", got)
	}
	// A change after the signal was read signals again.
	s.Put(e)
	select {
	case <-s.Changed():
	default:
		t.Fatal("a change after a read was not signalled")
	}
}

func TestJudge(t *testing.T) {
	withAction := func(g *policyv1alpha1.Guardrail, a policyv1alpha1.EnforcementAction) *policyv1alpha1.Guardrail {
		g.Spec.EnforcementAction = a
		return g
	}
	onlyDelete := guardrail("on-delete", alwaysModule)
	onlyDelete.Spec.Match.Operations = []policyv1alpha1.Operation{"DELETE"}
	onlyProd := guardrail("prod-only", alwaysModule)
	onlyProd.Spec.Match.Namespaces = []string{"prod"}
	byLabel := guardrail("by-label", alwaysModule)
	byLabel.Spec.Match.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "data"}}
	byNSLabel := guardrail("by-ns-label", alwaysModule)
	byNSLabel.Spec.Match.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "production"}}
	databases := guardrail("databases", alwaysModule)
	databases.Spec.Match.Kinds = []policyv1alpha1.KindSelector{{APIGroups: []string{"database.stratus.dev"}, Kinds: []string{"Database"}}}

	public := bucket(map[string]any{"publicAccess": "Allowed"})
	blocked := bucket(map[string]any{"publicAccess": "Blocked"})
	prodLabels := func(ns string) (map[string]string, error) {
		return map[string]string{"env": map[string]string{"team-a": "production"}[ns]}, nil
	}

	tests := []struct {
		name       string
		guardrails []*policyv1alpha1.Guardrail
		req        match.Request
		in         engine.Input
		nsLabels   match.NamespaceLabels
		want       []string // "action message"
		// wantFailures start "action error" of each failure, in order.
		wantFailures []string
	}{
		{name: "no guardrails", req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"},
			in: engine.Input{Object: public}, want: nil},
		{name: "deny finding", guardrails: []*policyv1alpha1.Guardrail{guardrail("public", publicModule)},
			req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}, in: engine.Input{Object: public},
			want: []string{"deny [public] Bucket team-a/logs: spec.publicAccess must be Blocked"}},
		{name: "no violation", guardrails: []*policyv1alpha1.Guardrail{guardrail("public", publicModule)},
			req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}, in: engine.Input{Object: blocked}},
		{name: "each finding carries its entry's action", guardrails: []*policyv1alpha1.Guardrail{
			withAction(guardrail("w", alwaysModule), policyv1alpha1.EnforcementWarn),
			withAction(guardrail("d", alwaysModule), policyv1alpha1.EnforcementDryRun),
			guardrail("public", publicModule),
		}, req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "UPDATE"}, in: engine.Input{Object: public},
			// Sorted by guardrail name.
			want: []string{
				"dryrun [d] Bucket team-a/logs: always",
				"deny [public] Bucket team-a/logs: spec.publicAccess must be Blocked",
				"warn [w] Bucket team-a/logs: always",
			}},
		{name: "only matching entries are evaluated", guardrails: []*policyv1alpha1.Guardrail{
			onlyDelete, onlyProd, byLabel, databases, guardrail("public", publicModule),
		}, req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}, in: engine.Input{Object: public},
			want: []string{"deny [public] Bucket team-a/logs: spec.publicAccess must be Blocked"}},
		{name: "DELETE judges the old object", guardrails: []*policyv1alpha1.Guardrail{onlyDelete, guardrail("public", publicModule)},
			req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "DELETE"}, in: engine.Input{OldObject: public},
			want: []string{"deny [on-delete] Bucket team-a/logs: always"}},
		{name: "label selector", guardrails: []*policyv1alpha1.Guardrail{byLabel},
			req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Labels: map[string]string{"tier": "data"}, Operation: "CREATE"}, in: engine.Input{Object: blocked},
			want: []string{"deny [by-label] Bucket team-a/logs: always"}},
		{name: "namespace selector", guardrails: []*policyv1alpha1.Guardrail{byNSLabel},
			req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}, in: engine.Input{Object: blocked}, nsLabels: prodLabels,
			want: []string{"deny [by-ns-label] Bucket team-a/logs: always"}},
		{name: "namespace selector without labels is a failure naming the guardrail", guardrails: []*policyv1alpha1.Guardrail{byNSLabel},
			req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}, in: engine.Input{Object: blocked},
			wantFailures: []string{`deny guardrail "by-ns-label": match.namespaceSelector`}},
		{name: "a failing guardrail does not stop the others", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("a-conflict", conflictModule), withAction(guardrail("b-loop", loopModule), policyv1alpha1.EnforcementWarn), guardrail("public", publicModule),
		}, req: match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}, in: engine.Input{Object: public},
			want: []string{"deny [public] Bucket team-a/logs: spec.publicAccess must be Blocked"},
			wantFailures: []string{
				`deny guardrail "a-conflict": a-conflict.rego:4: eval_conflict_error`,
				`warn guardrail "b-loop" exceeded its limit of 100000 evaluation steps`,
			}},
		{name: "audit", guardrails: []*policyv1alpha1.Guardrail{onlyDelete, guardrail("public", publicModule)},
			req: match.Request{GroupKind: bucketGK, Namespace: "team-a"}, in: engine.Input{Object: public},
			want: []string{"deny [public] Bucket team-a/logs: spec.publicAccess must be Blocked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore()
			for _, g := range tt.guardrails {
				s.Put(mustCompile(t, g))
			}
			fs, failures, err := s.Snapshot().Judge(context.Background(), tt.req, tt.in, tt.nsLabels)
			if err != nil {
				t.Fatalf("Judge: %v", err)
			}
			if len(failures) != len(tt.wantFailures) {
				t.Fatalf("failures %+v, want %q", failures, tt.wantFailures)
			}
			for i, f := range failures {
				if got := string(f.Action) + " " + f.Err.Error(); !strings.HasPrefix(got, tt.wantFailures[i]) {
					t.Errorf("failure %d is %q, want it to start %q", i, got, tt.wantFailures[i])
				}
			}
			var got []string
			for _, f := range fs {
				got = append(got, string(f.Action)+" "+f.Message)
				if f.Guardrail == "" {
					t.Errorf("finding %q names no guardrail", f.Message)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestJudgeCancelled(t *testing.T) {
	s := NewStore()
	s.Put(mustCompile(t, guardrail("public", publicModule)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}
	_, failures, err := s.Snapshot().Judge(ctx, req, engine.Input{Object: bucket(nil)}, nil)
	if err != nil || len(failures) != 1 || !errors.Is(failures[0].Err, context.Canceled) || failures[0].Rego {
		t.Fatalf("Judge = %v, %+v, want one failure for context.Canceled, not the Rego's", err, failures)
	}
	// Nothing matches: nothing is evaluated, so no failure.
	req.GroupKind.Kind = "Queue"
	if _, failures, err := s.Snapshot().Judge(ctx, req, engine.Input{Object: bucket(nil)}, nil); err != nil || len(failures) > 0 {
		t.Fatalf("Judge of an unmatched kind: %v %v", err, failures)
	}
}

// TestStoreConcurrency runs readers that judge and look up entries while
// writers put and delete them; run it with -race.
func TestStoreConcurrency(t *testing.T) {
	s := NewStore()
	const n = 8
	entries := make([]*Entry, n)
	for i := range entries {
		entries[i] = mustCompile(t, guardrail(fmt.Sprintf("g%d", i), alwaysModule))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				e := entries[(w+i)%n]
				if i%3 == 0 {
					s.Delete(e.Name)
				} else {
					s.Put(e)
				}
			}
		})
	}
	errs := make(chan error, 4)
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			req := match.Request{GroupKind: bucketGK, Namespace: "team-a", Operation: "CREATE"}
			in := engine.Input{Object: bucket(map[string]any{"publicAccess": "Allowed"})}
			for ctx.Err() == nil {
				sn := s.Snapshot()
				if !sort.SliceIsSorted(sn.Entries, func(i, j int) bool { return sn.Entries[i].Name < sn.Entries[j].Name }) {
					errs <- fmt.Errorf("snapshot not sorted: %v", names(sn))
					return
				}
				fs, failures, err := sn.Judge(ctx, req, in, nil)
				if err != nil || len(failures) > 0 {
					if ctx.Err() != nil {
						return
					}
					errs <- fmt.Errorf("%v %v", err, failures)
					return
				}
				// Every entry of one snapshot judges, however the store changes.
				if len(fs) != len(sn.Entries) {
					errs <- fmt.Errorf("%d findings from %d entries", len(fs), len(sn.Entries))
					return
				}
				s.Get("g0")
				_ = s.Revision()
			}
		})
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-s.Changed():
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	cancel()
	readers.Wait()
	<-drained
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.Revision(); got != 4*200 {
		t.Errorf("revision %d, want %d", got, 4*200)
	}
}
