package options

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

func TestServing(t *testing.T) {
	cases := []struct {
		reason     string
		args       []string
		secure     bool
		filter     bool
		certDir    string
		nextProtos []string
	}{
		{reason: "by default, HTTPS with authentication and authorization, self-signed, HTTP/1.1 only",
			secure: true, filter: true, nextProtos: []string{"http/1.1"}},
		{reason: "a certificate folder",
			args:   []string{"--metrics-cert-dir=/metrics-certs"},
			secure: true, filter: true, certDir: "/metrics-certs", nextProtos: []string{"http/1.1"}},
		{reason: "HTTP/2 when asked for",
			args:   []string{"--enable-http2"},
			secure: true, filter: true, nextProtos: []string{"h2"}},
		{reason: "plain HTTP when asked for, with no filter",
			args: []string{"--metrics-secure=false"}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			o, err := Parse(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if o.MetricsAddr != ":8443" {
				t.Errorf("--metrics-bind-address defaults to %q, want :8443", o.MetricsAddr)
			}
			m := o.Serving.Metrics(o.MetricsAddr)
			if m.BindAddress != ":8443" || m.SecureServing != tc.secure || (m.FilterProvider != nil) != tc.filter || m.CertDir != tc.certDir {
				t.Errorf("%s\nmetrics options: bind %q secure %t filter %t certDir %q, want secure %t filter %t certDir %q",
					tc.reason, m.BindAddress, m.SecureServing, m.FilterProvider != nil, m.CertDir, tc.secure, tc.filter, tc.certDir)
			}
			if !tc.secure {
				return
			}
			// controller-runtime's servers start from h2 and apply TLSOpts.
			for name, opts := range map[string][]func(*tls.Config){"metrics": m.TLSOpts, "webhook": o.Serving.Webhook(&o.Webhook).TLSOpts} {
				cfg := &tls.Config{NextProtos: []string{"h2"}}
				for _, f := range opts {
					f(cfg)
				}
				if !slices.Equal(cfg.NextProtos, tc.nextProtos) {
					t.Errorf("%s\n%s server ALPN protocols %v, want %v", tc.reason, name, cfg.NextProtos, tc.nextProtos)
				}
			}
		})
	}
}

func TestWebhookServerOptions(t *testing.T) {
	o, err := Parse([]string{"--webhook-host=10.0.0.1", "--webhook-port=9444", "--webhook-cert-dir=/certs"})
	if err != nil {
		t.Fatal(err)
	}
	w := o.Serving.Webhook(&o.Webhook)
	if w.Host != "10.0.0.1" || w.Port != 9444 || w.CertDir != "/certs" || len(w.TLSOpts) != 1 {
		t.Errorf("webhook options %+v", w)
	}
}

func TestCacheByWebhookConfiguration(t *testing.T) {
	o, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := o.Webhook.Cache(); c.ByObject != nil || c.DefaultTransform == nil {
		t.Errorf("without --webhook-configuration: ByObject %v, transform set %t; want no ByObject and the transform", c.ByObject, c.DefaultTransform != nil)
	}
	o, err = Parse([]string{"--webhook-configuration=stratus"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.Webhook.Cache()
	if len(c.ByObject) != 1 {
		t.Fatalf("ByObject %v, want the webhook configurations only", c.ByObject)
	}
	for obj, by := range c.ByObject {
		if _, ok := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration); !ok || by.Field == nil || by.Field.String() != "metadata.name=stratus" {
			t.Errorf("ByObject %T: field %v, want ValidatingWebhookConfiguration metadata.name=stratus", obj, by.Field)
		}
	}
}

func TestNameScoped(t *testing.T) {
	var got []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer server.Close()
	mgr := nameScoped(fakeManager{config: &rest.Config{Host: server.URL + "/proxy"}},
		namedCollection{path: "/api/v1/namespaces/ns/secrets", name: "cert"},
		namedCollection{path: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", name: "stratus"})
	client, err := rest.HTTPClientFor(mgr.GetConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/proxy/api/v1/namespaces/ns/secrets?watch=true"},
		{http.MethodGet, "/proxy/api/v1/namespaces/ns/secrets?fieldSelector=type%3DOpaque"},
		{http.MethodGet, "/proxy/api/v1/namespaces/ns/secrets/cert"},
		{http.MethodGet, "/proxy/api/v1/namespaces/other/secrets"},
		{http.MethodPut, "/proxy/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"},
		{http.MethodGet, "/proxy/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations?limit=500"},
	} {
		r, err := http.NewRequest(req.method, server.URL+req.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{
		"GET /proxy/api/v1/namespaces/ns/secrets?fieldSelector=metadata.name%3Dcert&watch=true",
		"GET /proxy/api/v1/namespaces/ns/secrets?fieldSelector=type%3DOpaque%2Cmetadata.name%3Dcert",
		"GET /proxy/api/v1/namespaces/ns/secrets/cert?",
		"GET /proxy/api/v1/namespaces/other/secrets?",
		"PUT /proxy/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations?",
		"GET /proxy/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations?fieldSelector=metadata.name%3Dstratus&limit=500",
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests sent:\n%q\nwant\n%q", got, want)
	}
}

// fakeManager is a manager with a configuration and nothing else.
type fakeManager struct {
	ctrl.Manager
	config *rest.Config
}

func (m fakeManager) GetConfig() *rest.Config { return m.config }
