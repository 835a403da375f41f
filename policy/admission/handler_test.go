package admission

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/guardrails"
)

const (
	publicMsg     = "spec.publicAccess must be Blocked"
	versioningMsg = "spec.versioning must be Enabled"
)

// handlerCase is one request to a Handler and what it must answer.
type handlerCase struct {
	name       string
	guardrails []*policyv1alpha1.Guardrail
	// notReady leaves the store not ready.
	notReady bool
	// handler changes the Handler of the test.
	handler func(*Handler)
	req     admission.Request

	wantAllowed bool
	// wantCode is the Result code; 0 is 200 when allowed and 403 when
	// denied.
	wantCode int32
	// wantMessage are parts of the Result message.
	wantMessage []string
	// wantWarnings are parts of each warning, in order.
	wantWarnings []string
	// wantEvents are parts of each Event recorded, in order.
	wantEvents []string
	// wantDecision is the decision counted in the metrics.
	wantDecision string
}

// run sends tc.req to a Handler with the test's guardrails, the
// StaticWebsite composites and Namespaces team-a (env production), team-b
// (env dev) and web, and checks the response, Events and metrics.
func (tc handlerCase) run(t *testing.T) {
	t.Helper()
	var store *guardrails.Store
	if tc.notReady {
		store = guardrails.NewStore()
	} else {
		store = newStore(t, tc.guardrails...)
	}
	recorder := &events.FakeRecorder{Events: make(chan string, 16), Verbose: true}
	h := &Handler{
		Store:      store,
		Composites: staticWebsiteComposites(t),
		Namespaces: namespaces{
			"team-a": {"env": "production"},
			"team-b": {"env": "dev"},
			"web":    {"env": "production"},
		},
		Recorder:         recorder,
		ExemptNamespaces: append([]string{"sandbox"}, DefaultExemptNamespaces...),
		FailurePolicy:    Fail,
		Timeout:          10 * time.Second,
		Log:              logr.Discard(),
	}
	if tc.handler != nil {
		tc.handler(h)
	}

	before := decisions(t)
	resp := h.Handle(context.Background(), tc.req)
	after := decisions(t)

	if resp.Allowed != tc.wantAllowed {
		t.Errorf("Allowed = %v, want %v; result %+v", resp.Allowed, tc.wantAllowed, resp.Result)
	}
	if resp.Result == nil {
		t.Fatalf("no Result")
	}
	wantCode := tc.wantCode
	if wantCode == 0 {
		wantCode = http.StatusOK
		if !tc.wantAllowed {
			wantCode = http.StatusForbidden
		}
	}
	if resp.Result.Code != wantCode {
		t.Errorf("Result.Code = %d, want %d (%s)", resp.Result.Code, wantCode, resp.Result.Message)
	}
	for _, m := range tc.wantMessage {
		if !strings.Contains(resp.Result.Message, m) {
			t.Errorf("Result.Message\n%s\nlacks\n%s", resp.Result.Message, m)
		}
	}
	if len(resp.Warnings) != len(tc.wantWarnings) {
		t.Errorf("Warnings = %q, want %d like %q", resp.Warnings, len(tc.wantWarnings), tc.wantWarnings)
	} else {
		for i, w := range tc.wantWarnings {
			if !strings.Contains(resp.Warnings[i], w) {
				t.Errorf("Warnings[%d] = %q, want it to contain %q", i, resp.Warnings[i], w)
			}
		}
	}
	var got []string
	for len(recorder.Events) > 0 {
		got = append(got, <-recorder.Events)
	}
	if len(got) != len(tc.wantEvents) {
		t.Errorf("Events = %q, want %d like %q", got, len(tc.wantEvents), tc.wantEvents)
	} else {
		for i, e := range tc.wantEvents {
			if !strings.Contains(got[i], e) {
				t.Errorf("Event %d = %q, want it to contain %q", i, got[i], e)
			}
		}
	}
	want := maps.Clone(before)
	want[tc.wantDecision]++
	if !maps.Equal(after, want) {
		t.Errorf("decisions went from %v to %v, want one more %q", before, after, tc.wantDecision)
	}
}

func TestHandle(t *testing.T) {
	public := guardrail("public", publicRego)
	versioning := guardrail("versioning", versioningRego)
	publicWarn := guardrail("public", publicRego, action(policyv1alpha1.EnforcementWarn))
	publicDryRun := guardrail("public", publicRego, action(policyv1alpha1.EnforcementDryRun))
	noDelete := guardrail("nodelete", deleteRego, operations("DELETE"))
	prodOnly := guardrail("public", publicRego, namespaceSelector("env", "production"))

	tests := []handlerCase{
		{name: "deny", guardrails: []*policyv1alpha1.Guardrail{public},
			req:         bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantMessage: []string{"guardrail violation: [public] Bucket team-a/logs: " + publicMsg}, wantDecision: decisionDeny},
		{name: "compliant", guardrails: []*policyv1alpha1.Guardrail{public, versioning},
			req:         bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "no guardrails",
			req:         bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "guardrail of another kind", guardrails: []*policyv1alpha1.Guardrail{guardrail("db", publicRego, kinds("database.stratus.dev", "Database"))},
			req:         bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "kind from the object when the request has none", guardrails: []*policyv1alpha1.Guardrail{public},
			req: func() admission.Request {
				r := bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil)
				r.Kind.Kind, r.Kind.Group = "", ""
				return r
			}(),
			wantMessage: []string{"[public] Bucket team-a/logs: " + publicMsg}, wantDecision: decisionDeny},
		{name: "warn", guardrails: []*policyv1alpha1.Guardrail{publicWarn},
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed:  true,
			wantWarnings: []string{"[public] Bucket team-a/logs: " + publicMsg}, wantDecision: decisionWarn},
		{name: "dryrun", guardrails: []*policyv1alpha1.Guardrail{publicDryRun},
			req:         bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed: true,
			wantEvents: []string{"Warning " + ReasonDryRunViolation + " Admit [public] Bucket team-a/logs: " + publicMsg +
				" (CREATE by alice, admitted: dryrun) {kind=Guardrail,apiVersion=policy.stratus.dev/v1alpha1}"},
			wantDecision: decisionAllow},
		{name: "dryrun of a dry-run request records no Event", guardrails: []*policyv1alpha1.Guardrail{publicDryRun},
			req: func() admission.Request {
				r := bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil)
				r.DryRun = ptr.To(true)
				return r
			}(),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "dryrun without a recorder", guardrails: []*policyv1alpha1.Guardrail{publicDryRun},
			handler:     func(h *Handler) { h.Recorder = nil },
			req:         bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "several denials", guardrails: []*policyv1alpha1.Guardrail{public, versioning},
			req: bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed", withSpec("versioning", "Disabled")), nil),
			wantMessage: []string{"2 guardrail violations:\n- [public] Bucket team-a/logs: " + publicMsg +
				"\n- [versioning] Bucket team-a/logs: " + versioningMsg},
			wantDecision: decisionDeny},
		{name: "a denial with a warning and a dryrun", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("a-dry", versioningRego, action(policyv1alpha1.EnforcementDryRun)),
			public,
			guardrail("z-warn", versioningRego, action(policyv1alpha1.EnforcementWarn)),
		},
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed", withSpec("versioning", "Disabled")), nil),
			wantMessage:  []string{"guardrail violation: [public] Bucket team-a/logs: " + publicMsg},
			wantWarnings: []string{"[z-warn] Bucket team-a/logs: " + versioningMsg},
			wantEvents:   []string{"[a-dry] Bucket team-a/logs: " + versioningMsg},
			wantDecision: decisionDeny},

		// Namespaces.
		{name: "exempt system namespace", guardrails: []*policyv1alpha1.Guardrail{public},
			req:         bucketRequest(admissionv1.Create, "kube-system", "logs", bucket("kube-system", "logs", "Allowed"), nil),
			wantAllowed: true, wantMessage: []string{"namespace kube-system is exempt from guardrails"}, wantDecision: decisionExempt},
		{name: "exempt namespace of the options", guardrails: []*policyv1alpha1.Guardrail{public},
			req:         bucketRequest(admissionv1.Create, "sandbox", "logs", bucket("sandbox", "logs", "Allowed"), nil),
			wantAllowed: true, wantDecision: decisionExempt},
		{name: "exempt namespace even when malformed", guardrails: []*policyv1alpha1.Guardrail{public},
			req:         bucketRequest(admissionv1.Create, "sandbox", "logs", []byte("{"), nil),
			wantAllowed: true, wantDecision: decisionExempt},
		{name: "namespace selector matches", guardrails: []*policyv1alpha1.Guardrail{prodOnly},
			req:         bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantMessage: []string{"[public] Bucket team-a/logs"}, wantDecision: decisionDeny},
		{name: "namespace selector does not match", guardrails: []*policyv1alpha1.Guardrail{prodOnly},
			req:         bucketRequest(admissionv1.Create, "team-b", "logs", bucket("team-b", "logs", "Allowed"), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "namespace not found", guardrails: []*policyv1alpha1.Guardrail{prodOnly},
			req:          bucketRequest(admissionv1.Create, "team-z", "logs", bucket("team-z", "logs", "Allowed"), nil),
			wantMessage:  []string{"guardrails could not judge this request (failurePolicy Fail)", `namespaces "team-z" not found`},
			wantDecision: decisionError},
		{name: "namespace selector without a namespace reader", guardrails: []*policyv1alpha1.Guardrail{prodOnly},
			handler:      func(h *Handler) { h.Namespaces = nil },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantMessage:  []string{"(failurePolicy Fail)", "namespace labels are unknown"},
			wantDecision: decisionError},

		// Failure policy.
		{name: "not ready, Fail", guardrails: []*policyv1alpha1.Guardrail{public}, notReady: true,
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantMessage:  []string{"guardrails could not judge this request (failurePolicy Fail): the guardrails are still loading"},
			wantDecision: decisionError},
		{name: "not ready, no failure policy is Fail", guardrails: []*policyv1alpha1.Guardrail{public}, notReady: true,
			handler:      func(h *Handler) { h.FailurePolicy = "" },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantMessage:  []string{"(failurePolicy Fail)"},
			wantDecision: decisionError},
		{name: "not ready, Ignore", guardrails: []*policyv1alpha1.Guardrail{public}, notReady: true,
			handler:      func(h *Handler) { h.FailurePolicy = Ignore },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed:  true,
			wantWarnings: []string{"guardrails could not judge this request and admitted it (failurePolicy Ignore): the guardrails are still loading"},
			wantDecision: decisionError},
		{name: "timeout, Fail", guardrails: []*policyv1alpha1.Guardrail{public},
			handler:      func(h *Handler) { h.Timeout = time.Nanosecond },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantMessage:  []string{"(failurePolicy Fail)", `guardrail "public"`, "context deadline exceeded"},
			wantDecision: decisionError},
		{name: "timeout, Ignore", guardrails: []*policyv1alpha1.Guardrail{public},
			handler:      func(h *Handler) { h.Timeout, h.FailurePolicy = time.Nanosecond, Ignore },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed:  true,
			wantWarnings: []string{"(failurePolicy Ignore): guardrail \"public\": context deadline exceeded"},
			wantDecision: decisionError},
		{name: "timeout with nothing to evaluate", guardrails: []*policyv1alpha1.Guardrail{guardrail("db", publicRego, kinds("database.stratus.dev", "Database"))},
			handler:     func(h *Handler) { h.Timeout = time.Nanosecond },
			req:         bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "slow guardrail, Fail", guardrails: []*policyv1alpha1.Guardrail{guardrail("slow", slowRego)},
			handler:      func(h *Handler) { h.Timeout = 50 * time.Millisecond },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantMessage:  []string{"(failurePolicy Fail)", `guardrail "slow"`, "context deadline exceeded"},
			wantDecision: decisionError},
		{name: "slow guardrail, Ignore", guardrails: []*policyv1alpha1.Guardrail{guardrail("slow", slowRego)},
			handler:      func(h *Handler) { h.Timeout, h.FailurePolicy = 50*time.Millisecond, Ignore },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantAllowed:  true,
			wantWarnings: []string{"(failurePolicy Ignore)"},
			wantDecision: decisionError},

		// A guardrail that fails on its own: the others still judge.
		{name: "looping guardrail, Fail", guardrails: []*policyv1alpha1.Guardrail{guardrail("loop", loopRego)},
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantMessage:  []string{"(failurePolicy Fail)", `guardrail "loop" exceeded its limit of 100000 evaluation steps`},
			wantEvents:   []string{"Warning " + ReasonEvaluationFailed + ` Admit guardrail "loop" exceeded its limit of 100000 evaluation steps (a loop or a comprehension too large to judge one object) (at admission; denied: failurePolicy Fail)`},
			wantDecision: decisionError},
		{name: "looping guardrail, Ignore", guardrails: []*policyv1alpha1.Guardrail{guardrail("loop", loopRego)},
			handler:      func(h *Handler) { h.FailurePolicy = Ignore },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantAllowed:  true,
			wantWarnings: []string{`(failurePolicy Ignore): guardrail "loop" exceeded its limit`},
			wantEvents:   []string{"(at admission; admitted: failurePolicy Ignore)"},
			wantDecision: decisionError},
		{name: "a failing guardrail does not hide another's denial, even under Ignore", guardrails: []*policyv1alpha1.Guardrail{guardrail("loop", loopRego), public},
			handler:      func(h *Handler) { h.FailurePolicy = Ignore },
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantMessage:  []string{"guardrail violation: [public] Bucket team-a/logs: " + publicMsg},
			wantWarnings: []string{`guardrails could not judge this request: guardrail "loop" exceeded its limit`},
			wantEvents:   []string{ReasonEvaluationFailed},
			wantDecision: decisionDeny},
		{name: "a failing warn guardrail warns", guardrails: []*policyv1alpha1.Guardrail{guardrail("conflict", conflictRego, action(policyv1alpha1.EnforcementWarn)), versioning},
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantAllowed:  true,
			wantWarnings: []string{`guardrails could not judge this request by conflict (enforcement: warn): guardrail "conflict": conflict.rego:`},
			wantEvents:   []string{"(at admission; admitted: warn)"},
			wantDecision: decisionAllow},
		{name: "a failing dryrun guardrail is only recorded", guardrails: []*policyv1alpha1.Guardrail{guardrail("conflict", conflictRego, action(policyv1alpha1.EnforcementDryRun))},
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil),
			wantAllowed:  true,
			wantEvents:   []string{"eval_conflict_error: rule data.t.conflict.kind produced conflicting values"},
			wantDecision: decisionAllow},

		// UPDATE.
		{name: "UPDATE keeps an existing violation", guardrails: []*policyv1alpha1.Guardrail{public},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed", withLabels("owner", "web")),
				bucket("team-a", "logs", "Allowed")),
			wantAllowed:  true,
			wantWarnings: []string{"existing violation, admitted until fixed: [public] Bucket team-a/logs: " + publicMsg},
			wantDecision: decisionWarn},
		{name: "UPDATE adds a violation", guardrails: []*policyv1alpha1.Guardrail{public},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed"),
				bucket("team-a", "logs", "Blocked")),
			wantMessage: []string{"guardrail violation: [public] Bucket team-a/logs: " + publicMsg}, wantDecision: decisionDeny},
		{name: "UPDATE keeps one violation and adds another", guardrails: []*policyv1alpha1.Guardrail{public, versioning},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed", withSpec("versioning", "Disabled")),
				bucket("team-a", "logs", "Allowed")),
			wantMessage:  []string{"guardrail violation: [versioning] Bucket team-a/logs: " + versioningMsg},
			wantWarnings: []string{"existing violation, admitted until fixed: [public]"},
			wantDecision: decisionDeny},
		{name: "UPDATE fixing a violation", guardrails: []*policyv1alpha1.Guardrail{public},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Blocked"),
				bucket("team-a", "logs", "Allowed")),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "UPDATE without an old object is judged as new", guardrails: []*policyv1alpha1.Guardrail{public},
			req:         bucketRequest(admissionv1.Update, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantMessage: []string{"guardrail violation: [public]"}, wantDecision: decisionDeny},
		// An object being deleted: the finalizers come off, every other
		// change is judged (issue 14: forceDestroy set on a Bucket that
		// waits to be deleted was admitted).
		{name: "UPDATE of a deleting object that adds violations", guardrails: []*policyv1alpha1.Guardrail{public, versioning},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed", withSpec("versioning", "Disabled"), deleting()),
				bucket("team-a", "logs", "Blocked", deleting())),
			wantMessage:  []string{"2 guardrail violations:", "[public]", "[versioning]"},
			wantDecision: decisionDeny},
		{name: "UPDATE of a deleting object that keeps its violations", guardrails: []*policyv1alpha1.Guardrail{public},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed", withLabels("owner", "web"), deleting()),
				bucket("team-a", "logs", "Allowed", deleting())),
			wantAllowed:  true,
			wantWarnings: []string{"existing violation, admitted until fixed: [public]"},
			wantDecision: decisionWarn},
		{name: "finalizer removed from a deleting object with violations", guardrails: []*policyv1alpha1.Guardrail{public, versioning},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed", withSpec("versioning", "Disabled"), deleting(), withFinalizers(), withMeta("resourceVersion", "8", "generation", 3.0)),
				bucket("team-a", "logs", "Allowed", withSpec("versioning", "Disabled"), deleting(), withMeta("resourceVersion", "7", "generation", 2.0))),
			wantAllowed: true, wantMessage: []string{"only the finalizers of an object being deleted changed"}, wantDecision: decisionAllow},
		{name: "finalizer removed from a deleting object while loading", guardrails: []*policyv1alpha1.Guardrail{public}, notReady: true,
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed", deleting(), withFinalizers()),
				bucket("team-a", "logs", "Allowed", deleting())),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "nothing changed on a deleting object", guardrails: []*policyv1alpha1.Guardrail{public}, notReady: true,
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed", deleting()),
				bucket("team-a", "logs", "Allowed", deleting())),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "a spec change to a deleting object while loading", guardrails: []*policyv1alpha1.Guardrail{public}, notReady: true,
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed", deleting(), withSpec("forceDestroy", "true")),
				bucket("team-a", "logs", "Allowed", deleting())),
			wantMessage: []string{"the guardrails are still loading"}, wantDecision: decisionError},
		{name: "a label change with the finalizers of a deleting object is judged", guardrails: []*policyv1alpha1.Guardrail{guardrail("env", envRego)},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Blocked", deleting(), withFinalizers(), withLabels("env", "dev")),
				bucket("team-a", "logs", "Blocked", deleting(), withLabels("env", "production"))),
			wantMessage: []string{"[env] Bucket team-a/logs: metadata.labels.env must stay production"}, wantDecision: decisionDeny},
		{name: "finalizer removed from a live object is judged", guardrails: []*policyv1alpha1.Guardrail{public},
			req: bucketRequest(admissionv1.Update, "team-a", "logs",
				bucket("team-a", "logs", "Allowed"),
				bucket("team-a", "logs", "Allowed", withFinalizers("stratus.dev/finalizer"))),
			wantAllowed:  true,
			wantWarnings: []string{"existing violation, admitted until fixed: [public]"},
			wantDecision: decisionWarn},

		// DELETE and other operations.
		{name: "DELETE judged by a DELETE guardrail", guardrails: []*policyv1alpha1.Guardrail{noDelete, public},
			req:          bucketRequest(admissionv1.Delete, "team-a", "logs", nil, bucket("team-a", "logs", "Allowed", withLabels("env", "production"))),
			wantMessage:  []string{"guardrail violation: [nodelete] Bucket team-a/logs: production buckets cannot be deleted"},
			wantDecision: decisionDeny},
		{name: "DELETE the guardrail finds nothing in", guardrails: []*policyv1alpha1.Guardrail{noDelete},
			req:         bucketRequest(admissionv1.Delete, "team-a", "logs", nil, bucket("team-a", "logs", "Allowed", withLabels("env", "dev"))),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "DELETE is not judged by CREATE and UPDATE guardrails", guardrails: []*policyv1alpha1.Guardrail{public, guardrail("always", `package t.always

violation contains {"msg": "always"} if { true }
`)},
			req:         bucketRequest(admissionv1.Delete, "team-a", "logs", nil, bucket("team-a", "logs", "Allowed")),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "DELETE matched by the old object's labels", guardrails: []*policyv1alpha1.Guardrail{
			func() *policyv1alpha1.Guardrail {
				g := guardrail("nodelete", deleteRego, operations("DELETE"))
				g.Spec.Match.LabelSelector = nil
				g.Spec.Match.Namespaces = []string{"team-a"}
				return g
			}(),
		},
			req:         bucketRequest(admissionv1.Delete, "team-a", "logs", nil, bucket("team-a", "logs", "Blocked", withLabels("env", "production"))),
			wantMessage: []string{"[nodelete]"}, wantDecision: decisionDeny},
		{name: "CONNECT", guardrails: []*policyv1alpha1.Guardrail{guardrail("always", `package t.always

violation contains {"msg": "always"} if { true }
`, operations("CREATE", "UPDATE", "DELETE"))},
			req:         bucketRequest(admissionv1.Connect, "team-a", "logs", nil, nil),
			wantAllowed: true, wantMessage: []string{"guardrails do not judge CONNECT"}, wantDecision: decisionAllow},
		{name: "unknown operation", guardrails: []*policyv1alpha1.Guardrail{public},
			req:         bucketRequest("PATCH", "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantAllowed: true, wantDecision: decisionAllow},

		// Malformed requests.
		{name: "invalid JSON", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"decode request.object"}, wantDecision: decisionError},
		{name: "object an array", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`[1,2]`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"decode request.object"}, wantDecision: decisionError},
		{name: "object a string", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`"Bucket"`), nil),
			wantCode: http.StatusBadRequest, wantDecision: decisionError},
		{name: "metadata not an object", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":"logs"}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"decode request.object: metadata is not an object"}, wantDecision: decisionError},
		{name: "metadata null", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":null}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"metadata is not an object"}, wantDecision: decisionError},
		{name: "labels not strings", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":{"name":"logs","labels":{"env":1}}}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"decode request.object: metadata.labels:"}, wantDecision: decisionError},
		{name: "labels a list", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":{"name":"logs","labels":["env"]}}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"metadata.labels:"}, wantDecision: decisionError},
		{name: "name a number", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":{"name":42}}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"decode request.object: metadata.name:"}, wantDecision: decisionError},
		{name: "namespace a bool", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":{"name":"logs","namespace":true}}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"metadata.namespace:"}, wantDecision: decisionError},
		{name: "generateName an object", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":{"generateName":{}}}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"metadata.generateName:"}, wantDecision: decisionError},
		{name: "kind a number", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":7,"metadata":{"name":"logs"}}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"decode request.object: kind:"}, wantDecision: decisionError},
		{name: "apiVersion a list", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":["v1"],"kind":"Bucket","metadata":{"name":"logs"}}`), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"apiVersion:"}, wantDecision: decisionError},
		{name: "number out of range", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":{"name":"logs"},"spec":{"size":1e999}}`), nil),
			wantCode: http.StatusBadRequest, wantDecision: decisionError},
		{name: "empty object on CREATE", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", nil, nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"the CREATE request carries no object"}, wantDecision: decisionError},
		{name: "null object on CREATE", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte("null"), nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"carries no object"}, wantDecision: decisionError},
		{name: "no objects on DELETE", guardrails: []*policyv1alpha1.Guardrail{noDelete},
			req:      bucketRequest(admissionv1.Delete, "team-a", "logs", nil, nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"the DELETE request carries no object"}, wantDecision: decisionError},
		{name: "malformed old object on UPDATE", guardrails: []*policyv1alpha1.Guardrail{public},
			req:      bucketRequest(admissionv1.Update, "team-a", "logs", bucket("team-a", "logs", "Allowed"), []byte(`{"metadata":{"labels":{"a":null}}}`)),
			wantCode: http.StatusBadRequest, wantMessage: []string{"decode request.oldObject: metadata.labels:"}, wantDecision: decisionError},
		{name: "malformed while loading is still a bad request", notReady: true,
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{`), nil),
			wantCode: http.StatusBadRequest, wantDecision: decisionError},
		{name: "malformed under Ignore is still a bad request", guardrails: []*policyv1alpha1.Guardrail{public},
			handler:  func(h *Handler) { h.FailurePolicy = Ignore },
			req:      bucketRequest(admissionv1.Create, "team-a", "logs", []byte(`{`), nil),
			wantCode: http.StatusBadRequest, wantDecision: decisionError},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

// staticWebsiteRequest is an admission request of op on the StaticWebsite
// web/docs.
func staticWebsiteRequest(op admissionv1.Operation, object, oldObject []byte) admission.Request {
	return newRequest(op, siteGVK, "web", "docs", object, oldObject)
}

func TestHandleComposite(t *testing.T) {
	public := guardrail("public", publicRego)
	const contentPath = "StaticWebsite web/docs → resources.content: "
	tests := []handlerCase{
		{name: "denied by what it would create", guardrails: []*policyv1alpha1.Guardrail{public},
			req:          staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantMessage:  []string{"guardrail violation: " + contentPath + "[public] Bucket web/docs-content: " + publicMsg},
			wantDecision: decisionDeny},
		{name: "allowed when the guardrail matches only Databases", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("public", publicRego, kinds("database.stratus.dev", "Database")),
		},
			req:         staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "each resource is judged", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("versioning", versioningRego, action(policyv1alpha1.EnforcementWarn)),
			guardrail("always", `package t.always

violation contains {"msg": "always"} if { true }
`, action(policyv1alpha1.EnforcementWarn)),
		},
			req:         staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantAllowed: true,
			wantWarnings: []string{
				contentPath + "[always] Bucket web/docs-content: always",
				contentPath + "[versioning] Bucket web/docs-content: " + versioningMsg,
				"StaticWebsite web/docs → resources.logs: [always] Bucket web/docs-logs: always",
			},
			wantDecision: decisionWarn},
		{name: "a resource left out is not judged", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("always", `package t.always

violation contains {"msg": "always"} if { true }
`),
		},
			req: staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t, func(o map[string]any) {
				o["spec"].(map[string]any)["logging"] = map[string]any{"enabled": false}
			}), nil),
			wantMessage:  []string{"guardrail violation: " + contentPath + "[always]"},
			wantDecision: decisionDeny},
		{name: "the request's namespace when the instance has none", guardrails: []*policyv1alpha1.Guardrail{public},
			req: staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t, func(o map[string]any) {
				delete(o["metadata"].(map[string]any), "namespace")
			}), nil),
			wantMessage:  []string{contentPath + "[public] Bucket web/docs-content"},
			wantDecision: decisionDeny},
		{name: "children are matched by their own namespace", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("public", publicRego, func(g *policyv1alpha1.Guardrail) { g.Spec.Match.ExcludedNamespaces = []string{"web"} }),
		},
			req:         staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "children's namespace selector", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("public", publicRego, namespaceSelector("env", "production")),
		},
			req:          staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantMessage:  []string{contentPath + "[public]"},
			wantDecision: decisionDeny},
		{name: "a guardrail of the composite kind judges the instance", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("domain", `package t.domain

violation contains {"msg": "spec.domain must end in .example.org"} if {
	not endswith(input.object.spec.domain, ".example.org")
}
`, kinds("platform.example.com", "StaticWebsite")),
		},
			req:          staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantMessage:  []string{"guardrail violation: [domain] StaticWebsite web/docs: spec.domain must end in .example.org"},
			wantDecision: decisionDeny},
		{name: "UPDATE keeps what it already created", guardrails: []*policyv1alpha1.Guardrail{public},
			req: staticWebsiteRequest(admissionv1.Update,
				staticWebsiteInstance(t, func(o map[string]any) { o["spec"].(map[string]any)["region"] = "eu-west-1" }),
				staticWebsiteInstance(t)),
			wantAllowed:  true,
			wantWarnings: []string{"existing violation, admitted until fixed: " + contentPath + "[public] Bucket web/docs-content: " + publicMsg},
			wantDecision: decisionWarn},
		{name: "DELETE does not judge what it created", guardrails: []*policyv1alpha1.Guardrail{
			guardrail("public", publicRego, operations("CREATE", "UPDATE", "DELETE")),
		},
			req:         staticWebsiteRequest(admissionv1.Delete, nil, staticWebsiteInstance(t)),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "an instance that does not render is admitted with a note", guardrails: []*policyv1alpha1.Guardrail{public},
			req: staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t, func(o map[string]any) {
				delete(o["spec"].(map[string]any), "domain")
			}), nil),
			wantAllowed:  true,
			wantWarnings: []string{"guardrails could not render StaticWebsite web/docs to judge what it would create: "},
			wantDecision: decisionAllow},
		{name: "no guardrails", req: staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "without composites only the instance is judged", guardrails: []*policyv1alpha1.Guardrail{public},
			handler:     func(h *Handler) { h.Composites = nil },
			req:         staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantAllowed: true, wantDecision: decisionAllow},
		{name: "composites that cannot be looked up, Fail", guardrails: []*policyv1alpha1.Guardrail{public},
			handler:      func(h *Handler) { h.Composites = &composites{err: errors.New("cache not synced")} },
			req:          staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantMessage:  []string{"(failurePolicy Fail): find composite kind StaticWebsite.platform.example.com: cache not synced"},
			wantDecision: decisionError},
		{name: "composites that cannot be looked up, Ignore", guardrails: []*policyv1alpha1.Guardrail{public},
			handler: func(h *Handler) {
				h.Composites = &composites{err: errors.New("cache not synced")}
				h.FailurePolicy = Ignore
			},
			req:          staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil),
			wantAllowed:  true,
			wantWarnings: []string{"(failurePolicy Ignore): find composite kind"},
			wantDecision: decisionError},
		{name: "a Bucket is not a composite", guardrails: []*policyv1alpha1.Guardrail{public},
			req:          bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil),
			wantMessage:  []string{"guardrail violation: [public] Bucket team-a/logs: "},
			wantDecision: decisionDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

// TestHandleTimeoutStopsEvaluation checks that the timeout stops a slow
// guardrail rather than waiting for it.
func TestHandleTimeoutStopsEvaluation(t *testing.T) {
	h := &Handler{Store: newStore(t, guardrail("slow", slowRego)), FailurePolicy: Fail, Timeout: 20 * time.Millisecond, Log: logr.Discard()}
	start := time.Now()
	resp := h.Handle(context.Background(), bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil))
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Handle took %v with a timeout of 20ms", elapsed)
	}
	if resp.Allowed || !strings.Contains(resp.Result.Message, "context deadline exceeded") {
		t.Fatalf("response %+v, want a denial for the timeout", resp.Result)
	}
	// The caller's deadline counts too.
	h.Timeout = 0
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	resp = h.Handle(ctx, bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "context deadline exceeded") {
		t.Fatalf("response %+v, want a denial for the caller's deadline", resp.Result)
	}
}

// TestHandleCountsViolations checks the violations metric, by guardrail
// and action.
func TestHandleCountsViolations(t *testing.T) {
	h := &Handler{
		Store: newStore(t,
			guardrail("count-deny", publicRego),
			guardrail("count-warn", versioningRego, action(policyv1alpha1.EnforcementWarn)),
			guardrail("count-dry", publicRego, action(policyv1alpha1.EnforcementDryRun)),
		),
		Log: logr.Discard(),
	}
	before := [3]float64{
		violations(t, "count-deny", policyv1alpha1.EnforcementDeny),
		violations(t, "count-warn", policyv1alpha1.EnforcementWarn),
		violations(t, "count-dry", policyv1alpha1.EnforcementDryRun),
	}
	h.Handle(context.Background(), bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed", withSpec("versioning", "Off")), nil))
	after := [3]float64{
		violations(t, "count-deny", policyv1alpha1.EnforcementDeny),
		violations(t, "count-warn", policyv1alpha1.EnforcementWarn),
		violations(t, "count-dry", policyv1alpha1.EnforcementDryRun),
	}
	for i := range before {
		if after[i] != before[i]+1 {
			t.Errorf("violation counter %d went from %v to %v, want one more", i, before[i], after[i])
		}
	}
}

// TestHandleConcurrent judges requests while the store changes; run it
// with -race.
func TestHandleConcurrent(t *testing.T) {
	store := newStore(t, guardrail("public", publicRego))
	h := &Handler{Store: store, Composites: staticWebsiteComposites(t), FailurePolicy: Fail, Timeout: 5 * time.Second, Log: logr.Discard()}
	versioning, err := guardrails.Compile(guardrail("versioning", versioningRego))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			store.Put(versioning)
			store.Delete("versioning")
		}
	}()
	site := staticWebsiteInstance(t)
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		var resp admission.Response
		if i%2 == 0 {
			resp = h.Handle(context.Background(), bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil))
		} else {
			resp = h.Handle(context.Background(), staticWebsiteRequest(admissionv1.Create, site, nil))
		}
		if resp.Allowed || !strings.Contains(resp.Result.Message, "[public]") {
			t.Fatalf("response %+v, want a denial by public", resp.Result)
		}
	}
}
