package controller

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
)

func TestValidator(t *testing.T) {
	tests := []struct {
		name   string
		change func(*policyv1alpha1.Guardrail)
		// wantCauses are the field and a part of the message of each
		// cause, in order; none means the Guardrail is valid.
		wantCauses [][2]string
	}{
		{name: "valid"},
		{name: "parse error", change: func(g *policyv1alpha1.Guardrail) { g.Spec.Rego = badModule },
			wantCauses: [][2]string{{"spec.rego", `"line 4, column 7": rego_parse_error: unexpected )`}}},
		{name: "compile error", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Rego = "package t.unsafe\n\nviolation contains {\"msg\": \"x\"} if {\n\tx == 1\n}\n"
		}, wantCauses: [][2]string{{"spec.rego", `"line 4, column 2": rego_unsafe_var_error: var x is unsafe`}}},
		{name: "no violation rule", change: func(g *policyv1alpha1.Guardrail) { g.Spec.Rego = "package t.none\n\nallow := true\n" },
			wantCauses: [][2]string{{"spec.rego", `"line 1, column 1": guardrail_contract_error: module does not define a violation rule`}}},
		{name: "violation rule further down", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Rego = "\n\n# a comment\npackage t.none\n\nallow := true\n"
		}, wantCauses: [][2]string{{"spec.rego", `"line 4, column 1": guardrail_contract_error`}}},
		{name: "Rego v0", change: func(g *policyv1alpha1.Guardrail) { g.Spec.Rego = "package t.v0\n\nviolation[msg] { msg := \"x\" }\n" },
			wantCauses: [][2]string{
				{"spec.rego", `"line 3, column 1": rego_parse_error: ` + "`if` keyword is required"},
				{"spec.rego", `"line 3, column 1": rego_parse_error: ` + "`contains` keyword is required"},
			}},
		{name: "http.send", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Rego = "package t.exfil\n\nviolation contains {\"msg\": \"x\"} if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"http://169.254.169.254/latest/meta-data/\"})\n\tr.status_code == 200\n}\n"
		}, wantCauses: [][2]string{{"spec.rego", `"line 4, column 7": guardrail_sandbox_error: http.send is not allowed in a guardrail: it sends HTTP requests`}}},
		{name: "opa.runtime through with", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Rego = "package t.env\n\nviolation contains {\"msg\": m} if {\n\tm := object.get({}, [], \"\") with object.get as opa.runtime\n}\n"
		}, wantCauses: [][2]string{{"spec.rego", `"line 4, column 49": guardrail_sandbox_error: opa.runtime is not allowed in a guardrail: it returns the operator's environment variables`}}},
		{name: "parameters not an object", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`[1]`)}
		}, wantCauses: [][2]string{{"spec", "spec.parameters must be an object"}}},
		{name: "bad selector", change: func(g *policyv1alpha1.Guardrail) {
			g.Spec.Match.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}}
		}, wantCauses: [][2]string{{"spec", "match.labelSelector:"}}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuardrail("rule", "uid", 1, goodModule)
			if tt.change != nil {
				tt.change(g)
			}
			_, createErr := Validator{}.ValidateCreate(ctx, g)
			_, updateErr := Validator{}.ValidateUpdate(ctx, newGuardrail("rule", "uid", 1, goodModule), g)
			for op, err := range map[string]error{"create": createErr, "update": updateErr} {
				if len(tt.wantCauses) == 0 {
					if err != nil {
						t.Errorf("%s: %v", op, err)
					}
					continue
				}
				if !apierrors.IsInvalid(err) {
					t.Fatalf("%s: error %v (%T), want an Invalid error", op, err, err)
				}
				status := err.(apierrors.APIStatus).Status()
				if status.Details == nil || status.Details.Kind != "Guardrail" || status.Details.Group != "policy.stratus.dev" || status.Details.Name != "rule" {
					t.Errorf("%s: details %+v do not name Guardrail rule", op, status.Details)
				}
				causes := status.Details.Causes
				if len(causes) != len(tt.wantCauses) {
					t.Fatalf("%s: causes %+v, want %d", op, causes, len(tt.wantCauses))
				}
				for i, want := range tt.wantCauses {
					if causes[i].Field != want[0] || !strings.Contains(causes[i].Message, want[1]) {
						t.Errorf("%s: cause %d is %s: %q, want %s: ...%s...", op, i, causes[i].Field, causes[i].Message, want[0], want[1])
					}
				}
			}
		})
	}
}

func TestValidatorAdmitsDeletion(t *testing.T) {
	g := newGuardrail("rule", "uid", 1, badModule)
	if w, err := (Validator{}).ValidateDelete(context.Background(), g); err != nil || w != nil {
		t.Fatalf("ValidateDelete = %v, %v", w, err)
	}
}

// TestValidatorReportsEveryError checks that each compile error is its own
// cause with its own position.
func TestValidatorReportsEveryError(t *testing.T) {
	module := "package t.two\n\nviolation contains {\"msg\": \"x\"} if {\n\tx == 1\n}\n\nviolation contains {\"msg\": \"y\"} if {\n\ty == 1\n}\n"
	_, err := Validator{}.ValidateCreate(context.Background(), newGuardrail("two", "uid", 1, module))
	if !apierrors.IsInvalid(err) {
		t.Fatalf("error %v, want an Invalid error", err)
	}
	causes := err.(apierrors.APIStatus).Status().Details.Causes
	var lines []string
	for _, c := range causes {
		lines = append(lines, c.Message)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{`"line 4, column 2"`, `"line 8, column 2"`} {
		if !strings.Contains(got, want) {
			t.Errorf("causes lack %s:\n%s", want, got)
		}
	}
}
