package localenv

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// front is one local endpoint for one cloud, serving several services the
// way the cloud's single set of credentials reaches them.
type front struct {
	srv *http.Server
	// URL is what a ProviderConfig's endpoint names.
	URL string
}

func startFront(h http.Handler) (*front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	f := &front{srv: &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}, URL: "http://" + ln.Addr().String()}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *front) close() error { return f.srv.Close() }

// proxyTo forwards requests to target unchanged, Host header included: the
// SigV4 signature of an S3 request covers it.
func proxyTo(target string) (http.Handler, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", target, err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	director := p.Director
	p.Director = func(r *http.Request) {
		host := r.Host
		director(r)
		r.Host = host
	}
	return p, nil
}

// sigV4Service finds the service a SigV4 request was signed for, in its
// Authorization header or, for a presigned URL, its query.
var sigV4Service = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)

// awsFront routes by the service in the request's SigV4 credential scope,
// as AWS routes by host name: rds to the RDS fake, everything else to S3.
func awsFront(s3, rds http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope := r.Header.Get("Authorization")
		if scope == "" {
			scope = "Credential=" + r.URL.Query().Get("X-Amz-Credential")
		}
		if m := sigV4Service.FindStringSubmatch(scope); m != nil && m[1] == "rds" {
			rds.ServeHTTP(w, r)
			return
		}
		s3.ServeHTTP(w, r)
	})
}

// gcpFront routes by path, as Google's APIs share a host: the Cloud SQL
// Admin API under /v1/projects/, Cloud Storage everything else.
func gcpFront(storage, sql http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/projects/") {
			sql.ServeHTTP(w, r)
			return
		}
		storage.ServeHTTP(w, r)
	})
}
