package s3shim

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// fakeBackend mimics versitygw's answers closely enough to drive the shim's
// own code paths: 501 for the subresources, HeadBucket answers for bucket
// "present" only, 403 when told to deny. It records the Host header of every
// request it gets.
type fakeBackend struct {
	mu    sync.Mutex
	hosts []string
}

func (f *fakeBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hosts = append(f.hosts, r.Host)
	f.mu.Unlock()
	bucket, isBucket := bucketOf(r.URL.Path)
	switch {
	case r.Header.Get("X-Test-Deny") != "":
		writeError(w, http.StatusForbidden, "AccessDenied", "Access Denied.", "")
	case r.Method == http.MethodHead && isBucket:
		if bucket == "present" {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusNotFound)
		}
	case isBucket && subresourceOf(r.URL.Query()) != nil:
		writeError(w, http.StatusNotImplemented, "NotImplemented", "not implemented", "")
	case r.Method == http.MethodDelete && isBucket:
		w.WriteHeader(http.StatusNoContent)
	default:
		_, _ = io.WriteString(w, "passthrough "+r.Method+" "+r.URL.RequestURI())
	}
}

func TestShimAgainstFakeBackend(t *testing.T) {
	fake := &fakeBackend{}
	backend := httptest.NewServer(fake)
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	shim, err := New(u, "root", "secret", "")
	if err != nil {
		t.Fatal(err)
	}
	defer shim.Close()
	front := httptest.NewServer(shim)
	defer front.Close()

	const encryption = `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>` +
		`<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`
	const lifecycle = `<LifecycleConfiguration><Rule><ID>r1</ID><Filter><Prefix>tmp/</Prefix></Filter>` +
		`<Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>`
	chunked := func(s string) string {
		return fmt.Sprintf("%x", len(s)) + ";chunk-signature=00\r\n" + s + "\r\n0;chunk-signature=00\r\n\r\n"
	}

	// Steps run in order: each depends on the state the previous ones left.
	steps := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantBody   string // regular expression
		wantHeader map[string]string
	}{
		{
			name: "missing bucket", method: http.MethodGet, path: "/missing?encryption", wantStatus: 404,
			wantBody: `^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>` +
				`<BucketName>missing</BucketName><RequestId>[0-9A-F]{16}</RequestId></Error>$`,
			wantHeader: map[string]string{"Content-Type": "application/xml"},
		},
		{
			name: "no configuration yet", method: http.MethodGet, path: "/present?encryption", wantStatus: 404,
			wantBody: `<Error><Code>ServerSideEncryptionConfigurationNotFoundError</Code>`,
		},
		{
			name: "put encryption", method: http.MethodPut, path: "/present?encryption", body: encryption, wantStatus: 200,
			wantBody: `^$`,
		},
		{
			name: "get encryption", method: http.MethodGet, path: "/present/?encryption=", wantStatus: 200,
			wantBody: `^<\?xml version="1.0" encoding="UTF-8"\?>\n<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
				`<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>` +
				`<BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>$`,
			wantHeader: map[string]string{"Content-Type": "application/xml"},
		},
		{
			name: "backend refusal is relayed", method: http.MethodDelete, path: "/present?encryption",
			header: map[string]string{"X-Test-Deny": "1"}, wantStatus: 403, wantBody: `<Code>AccessDenied</Code>`,
		},
		{
			name: "malformed document", method: http.MethodPut, path: "/present?publicAccessBlock", body: "<nope", wantStatus: 400,
			wantBody: `<Code>MalformedXML</Code>`,
		},
		{
			name: "aws-chunked lifecycle", method: http.MethodPut, path: "/present?lifecycle", body: chunked(lifecycle),
			header:     map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
			wantStatus: 200, wantHeader: map[string]string{minObjectSizeHeader: "all_storage_classes_128K"},
		},
		{
			name: "get lifecycle", method: http.MethodGet, path: "/present?lifecycle", wantStatus: 200,
			wantBody:   `<Rule><ID>r1</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>`,
			wantHeader: map[string]string{minObjectSizeHeader: "all_storage_classes_128K"},
		},
		{
			name: "object subresource is forwarded", method: http.MethodGet, path: "/present/key?encryption", wantStatus: 200,
			wantBody: `^passthrough GET /present/key\?encryption$`,
		},
		{
			name: "delete bucket is forwarded", method: http.MethodDelete, path: "/present", wantStatus: 204,
		},
		{
			name: "delete bucket cleared encryption", method: http.MethodGet, path: "/present?encryption", wantStatus: 404,
			wantBody: `<Code>ServerSideEncryptionConfigurationNotFoundError</Code>`,
		},
		{
			name: "delete bucket cleared lifecycle", method: http.MethodGet, path: "/present?lifecycle", wantStatus: 404,
			wantBody: `<Code>NoSuchLifecycleConfiguration</Code><Message>The lifecycle configuration does not exist</Message><BucketName>present</BucketName>`,
		},
	}
	for _, st := range steps {
		req, err := http.NewRequest(st.method, front.URL+st.path, strings.NewReader(st.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range st.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != st.wantStatus {
			t.Fatalf("%s: status %d; want %d; body %s", st.name, resp.StatusCode, st.wantStatus, body)
		}
		if st.wantBody != "" && !regexp.MustCompile(st.wantBody).Match(body) {
			t.Errorf("%s: body %q does not match %q", st.name, body, st.wantBody)
		}
		for k, v := range st.wantHeader {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: header %s = %q; want %q", st.name, k, got, v)
			}
		}
	}

	// Forwarded requests keep the Host the client used (SigV4 signs it); the
	// shim's own HeadBucket requests name the backend.
	frontHost := strings.TrimPrefix(front.URL, "http://")
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, h := range fake.hosts {
		if h != frontHost && h != u.Host {
			t.Errorf("backend got Host %q; want %q or %q", h, frontHost, u.Host)
		}
	}
	if !strings.Contains(strings.Join(fake.hosts, " "), frontHost) {
		t.Errorf("backend never got the client's Host %q: %v", frontHost, fake.hosts)
	}
}
