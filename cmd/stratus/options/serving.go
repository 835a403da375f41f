package options

import (
	"crypto/tls"
	"flag"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Serving are the flags of the manager's HTTPS servers: the metrics
// endpoint and the webhooks.
type Serving struct {
	// MetricsSecure serves the metrics over HTTPS to authenticated and
	// authorized clients only.
	MetricsSecure bool
	// MetricsCertDir holds the metrics server's tls.crt and tls.key; empty
	// generates a self-signed certificate at start.
	MetricsCertDir string
	// EnableHTTP2 lets the metrics and webhook servers speak HTTP/2.
	EnableHTTP2 bool
}

func (o *Serving) bind(fs *flag.FlagSet) {
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", true, "serve the metrics over HTTPS, to clients whose bearer token the API server authenticates (TokenReview) and authorizes for GET /metrics (SubjectAccessReview); false serves plain HTTP to anyone")
	fs.StringVar(&o.MetricsCertDir, "metrics-cert-dir", "", "folder holding the metrics serving certificate tls.crt and tls.key, reloaded when they change; empty generates a self-signed certificate at start")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "let the metrics and webhook servers speak HTTP/2; off by default, against HTTP/2 stream attacks such as Rapid Reset (CVE-2023-44487)")
}

// TLSOpts returns what the metrics and webhook servers apply to their TLS
// configuration: without --enable-http2, HTTP/1.1 is the only protocol
// offered (ALPN), so a client asking for HTTP/2 only is refused.
func (o *Serving) TLSOpts() []func(*tls.Config) {
	if o.EnableHTTP2 {
		return nil
	}
	return []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
}

// Metrics returns the options of the metrics server bound to addr: with
// --metrics-secure (the default), HTTPS, and every request authenticated
// and authorized by the API server with controller-runtime's filter, as
// the kubebuilder scaffold does. The manager then needs to create
// TokenReviews and SubjectAccessReviews, and a scraper needs GET on the
// non-resource URL /metrics (the chart's metrics-reader ClusterRole).
func (o *Serving) Metrics(addr string) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr}
	if !o.MetricsSecure {
		return opts
	}
	opts.SecureServing = true
	opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	opts.TLSOpts = o.TLSOpts()
	opts.CertDir = o.MetricsCertDir
	return opts
}

// Webhook returns the options of the webhook server of w, with the TLS
// options of the flags.
func (o *Serving) Webhook(w *Webhook) webhook.Options {
	return webhook.Options{Host: w.Host, Port: w.Port, CertDir: w.CertDir, TLSOpts: o.TLSOpts()}
}
