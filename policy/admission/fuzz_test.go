package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
)

// fuzzHandler is a Handler with guardrails of every action and operation,
// of any kind, a namespace selector, and the StaticWebsite composites, so
// that fuzzed requests reach every path.
func fuzzHandler(t testing.TB) *Handler {
	anyKind := kinds("*", "*")
	return &Handler{
		Store: newStore(t,
			guardrail("public", publicRego, anyKind),
			guardrail("versioning", versioningRego, anyKind, action(policyv1alpha1.EnforcementWarn)),
			guardrail("dry", publicRego, action(policyv1alpha1.EnforcementDryRun)),
			guardrail("nodelete", deleteRego, anyKind, operations("DELETE")),
			guardrail("prod", `package t.prod

violation contains {"msg": sprintf("labels %v", [input.object.metadata.labels])} if {
	input.object.metadata.labels.env == "production"
}
`, anyKind, namespaceSelector("env", "production")),
		),
		Composites: staticWebsiteComposites(t),
		Namespaces: namespaces{"team-a": {"env": "production"}, "web": {"env": "dev"}},
		// Events are dropped: a fuzzer would fill any buffer.
		Recorder:         &events.FakeRecorder{},
		ExemptNamespaces: DefaultExemptNamespaces,
		FailurePolicy:    Fail,
		Timeout:          5 * time.Second,
		Log:              logr.Discard(),
	}
}

// nestedArrays is depth nested JSON arrays.
func nestedArrays(depth int) []byte {
	return []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
}

// notAnObject reports whether raw is neither absent nor a JSON object or
// null: what the handler must refuse as a bad request.
func notAnObject(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	if !json.Valid(raw) {
		return true
	}
	trimmed := bytes.TrimSpace(raw)
	return trimmed[0] != '{' && !bytes.Equal(trimmed, []byte("null"))
}

// FuzzHandle sends requests of any object, old object and operation to
// the handler: it must never panic, and must refuse an object that is not
// JSON as a bad request.
func FuzzHandle(f *testing.F) {
	site := staticWebsiteInstance(f)
	public := bucket("team-a", "logs", "Allowed", withLabels("env", "production"))
	blocked := bucket("team-a", "logs", "Blocked")
	seeds := []struct {
		object, oldObject []byte
		op                string
	}{
		{public, nil, "CREATE"},
		{blocked, nil, "CREATE"},
		{public[:len(public)/2], nil, "CREATE"},
		{[]byte("{}"), nil, "CREATE"},
		{[]byte("null"), nil, "CREATE"},
		{nil, nil, "CREATE"},
		{[]byte("1e999999"), nil, "CREATE"},
		{[]byte(`{"apiVersion":"storage.stratus.dev/v1alpha1","kind":"Bucket","metadata":{"name":"n"},"spec":{"size":123456789012345678901234567890e300}}`), nil, "CREATE"},
		{nestedArrays(64), nil, "CREATE"},
		{[]byte(`{"a":` + string(nestedArrays(64)) + `}`), nil, "UPDATE"},
		{public, blocked, "UPDATE"},
		{public, public, "UPDATE"},
		{bucket("team-a", "logs", "Allowed", deleting()), public, "UPDATE"},
		{public, []byte(`{"metadata":"x"}`), "UPDATE"},
		{nil, public, "DELETE"},
		{[]byte(`{"metadata":{"labels":{"env":1}}}`), nil, "CREATE"},
		{[]byte(`{"metadata":{"name":7}}`), nil, "CREATE"},
		{[]byte(`{"kind":["Bucket"]}`), nil, "CREATE"},
		{site, nil, "CREATE"},
		{site, site, "UPDATE"},
		{nil, site, "DELETE"},
		{[]byte(`{"apiVersion":"platform.example.com/v1alpha1","kind":"StaticWebsite","metadata":{"name":"docs"},"spec":{"domain":1,"logging":"yes"}}`), nil, "CREATE"},
		{[]byte(`{"apiVersion":"platform.example.com/v1alpha1","kind":"StaticWebsite","metadata":{"name":"Not A Label!"},"spec":{"domain":"a.b"}}`), nil, "CREATE"},
		{[]byte(`{"apiVersion":"platform.example.com/v2","kind":"StaticWebsite","metadata":{"name":"docs"},"spec":[]}`), nil, "CREATE"},
		{public, nil, "CONNECT"},
		{public, nil, ""},
	}
	for _, s := range seeds {
		f.Add(s.object, s.oldObject, s.op)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, object, oldObject []byte, op string) {
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID:       "fuzz",
			Namespace: "team-a",
			Name:      "logs",
			Operation: admissionv1.Operation(op),
			UserInfo:  authenticationv1.UserInfo{Username: "fuzzer"},
			Object:    runtime.RawExtension{Raw: object},
			OldObject: runtime.RawExtension{Raw: oldObject},
		}}
		resp := h.Handle(context.Background(), req)
		judged := op == "CREATE" || op == "UPDATE" || op == "DELETE"
		if judged && (notAnObject(object) || notAnObject(oldObject)) {
			if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusBadRequest {
				t.Fatalf("object %q, old object %q: response %+v, want a bad request", object, oldObject, resp.AdmissionResponse)
			}
		}
		if !resp.Allowed && (resp.Result == nil || resp.Result.Message == "") {
			t.Fatalf("a denial without a message: %+v", resp.AdmissionResponse)
		}
		if _, err := json.Marshal(resp.AdmissionResponse); err != nil {
			t.Fatalf("the response does not encode: %v", err)
		}
	})
}

// review is the JSON of an AdmissionReview of apiVersion around req.
func review(t testing.TB, apiVersion string, req admission.Request) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apiVersion": apiVersion, "kind": "AdmissionReview", "request": req.AdmissionRequest})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// webhook serves h as the manager does, but lets a panic through.
func webhook(t testing.TB, h *Handler) http.Handler {
	t.Helper()
	wh, err := admission.StandaloneWebhook(&admission.Webhook{Handler: h, RecoverPanic: ptr.To(false)}, admission.StandaloneOptions{Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

// serve posts body to wh with contentType; a nil body is no body.
func serve(wh http.Handler, body []byte, contentType string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(http.MethodPost, Path, rd)
	r.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	wh.ServeHTTP(w, r)
	return w
}

// FuzzServeHTTP posts any body to the webhook: it must never panic, and
// answer with an HTTP error or an AdmissionReview with a response.
func FuzzServeHTTP(f *testing.F) {
	public := bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil)
	valid := review(f, "admission.k8s.io/v1", public)
	seeds := [][]byte{
		valid,
		valid[:len(valid)/2],
		review(f, "admission.k8s.io/v1beta1", public),
		review(f, "admission.k8s.io/v1", staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(f), nil)),
		review(f, "admission.k8s.io/v1", bucketRequest(admissionv1.Update, "team-a", "logs",
			bucket("team-a", "logs", "Allowed", deleting()), bucket("team-a", "logs", "Allowed"))),
		review(f, "admission.k8s.io/v1", bucketRequest(admissionv1.Delete, "team-a", "logs", nil, bucket("team-a", "logs", "Allowed"))),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":"x"}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":{"metadata":[]}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":{"spec":{"n":1e999}}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`),
		[]byte(`{"apiVersion":"v1","kind":"Pod"}`),
		[]byte(`{}`),
		[]byte(`null`),
		[]byte(`1e999999`),
		[]byte(`123456789012345678901234567890123456789012345678901234567890`),
		nestedArrays(100),
		{},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	wh := webhook(f, fuzzHandler(f))
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(wh, body, "application/json")
		if w.Code >= 400 {
			return
		}
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(w.Body.Bytes(), &ar); err != nil {
			t.Fatalf("status %d with a body that is not an AdmissionReview: %v\n%s", w.Code, err, w.Body)
		}
		if ar.Response == nil {
			t.Fatalf("an AdmissionReview without a response: %s", w.Body)
		}
		if !ar.Response.Allowed && (ar.Response.Result == nil || ar.Response.Result.Message == "") {
			t.Fatalf("a denial without a message: %s", w.Body)
		}
	})
}

// TestServeHTTP checks the webhook end to end over HTTP.
func TestServeHTTP(t *testing.T) {
	wh := webhook(t, fuzzHandler(t))
	public := bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Allowed"), nil)
	tests := []struct {
		name           string
		body           []byte
		contentType    string
		wantAPIVersion string
		wantUID        string
		wantAllowed    bool
		wantCode       int32
		wantMessage    string
	}{
		{name: "v1 denied", body: review(t, "admission.k8s.io/v1", public), wantAPIVersion: "admission.k8s.io/v1",
			wantUID: "req-logs", wantCode: http.StatusForbidden, wantMessage: "[public] Bucket team-a/logs: " + publicMsg},
		{name: "v1beta1 answered in v1beta1", body: review(t, "admission.k8s.io/v1beta1", public), wantAPIVersion: "admission.k8s.io/v1beta1",
			wantUID: "req-logs", wantCode: http.StatusForbidden, wantMessage: "[public]"},
		{name: "allowed", body: review(t, "admission.k8s.io/v1", bucketRequest(admissionv1.Create, "team-a", "logs", bucket("team-a", "logs", "Blocked"), nil)),
			wantAPIVersion: "admission.k8s.io/v1", wantUID: "req-logs", wantAllowed: true, wantCode: http.StatusOK},
		{name: "composite", body: review(t, "admission.k8s.io/v1", staticWebsiteRequest(admissionv1.Create, staticWebsiteInstance(t), nil)),
			wantAPIVersion: "admission.k8s.io/v1", wantUID: "req-docs", wantCode: http.StatusForbidden,
			wantMessage: "StaticWebsite web/docs → resources.content: [public] Bucket web/docs-content: " + publicMsg},
		{name: "malformed object", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":"x"}}`),
			wantAPIVersion: "admission.k8s.io/v1", wantUID: "u", wantCode: http.StatusBadRequest, wantMessage: "decode request.object"},
		{name: "truncated review", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":`),
			wantCode: http.StatusBadRequest},
		{name: "empty body", body: nil, wantCode: http.StatusBadRequest, wantMessage: "request body is empty"},
		{name: "wrong content type", body: review(t, "admission.k8s.io/v1", public), contentType: "text/plain",
			wantCode: http.StatusBadRequest, wantMessage: "contentType=text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			w := serve(wh, tt.body, ct)
			var ar admissionv1.AdmissionReview
			if err := json.Unmarshal(w.Body.Bytes(), &ar); err != nil || ar.Response == nil {
				t.Fatalf("status %d, body %s: %v", w.Code, w.Body, err)
			}
			if ar.APIVersion != tt.wantAPIVersion {
				t.Errorf("apiVersion %q, want %q", ar.APIVersion, tt.wantAPIVersion)
			}
			r := ar.Response
			if string(r.UID) != tt.wantUID || r.Allowed != tt.wantAllowed || r.Result == nil || r.Result.Code != tt.wantCode ||
				!strings.Contains(r.Result.Message, tt.wantMessage) {
				t.Errorf("response %s\nwant uid %q, allowed %v, code %d, message containing %q", w.Body, tt.wantUID, tt.wantAllowed, tt.wantCode, tt.wantMessage)
			}
		})
	}
}
