package s3shim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultRegion is the region New uses when given an empty one; versitygw's
// default region too.
const DefaultRegion = "us-east-1"

// maxConfigBody bounds the size of a configuration document a client may PUT.
const maxConfigBody = 1 << 20

// minObjectSizeHeader is the lifecycle header S3 echoes on Put and Get.
const minObjectSizeHeader = "X-Amz-Transition-Default-Minimum-Object-Size"

// subresource is one of the bucket subresources the shim implements.
type subresource struct {
	query           string
	notFoundCode    string
	notFoundMessage string
	normalize       func([]byte) ([]byte, error)
}

var subresources = []*subresource{
	{
		query:           "encryption",
		notFoundCode:    "ServerSideEncryptionConfigurationNotFoundError",
		notFoundMessage: "The server side encryption configuration was not found",
		normalize:       normalizeEncryption,
	},
	{
		query:           "publicAccessBlock",
		notFoundCode:    "NoSuchPublicAccessBlockConfiguration",
		notFoundMessage: "The public access block configuration was not found",
		normalize:       normalizePublicAccessBlock,
	},
	{
		query:           "lifecycle",
		notFoundCode:    "NoSuchLifecycleConfiguration",
		notFoundMessage: "The lifecycle configuration does not exist",
		normalize:       normalizeLifecycle,
	},
}

// storedConfig is a configuration document kept for one bucket, with the
// response headers that go with it.
type storedConfig struct {
	body   []byte
	header http.Header
}

// Shim is the test-only S3 proxy described in the package documentation. It
// is an [http.Handler]; create it with New. Its methods are safe for
// concurrent use.
type Shim struct {
	backend   *url.URL
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	client    *s3.Client

	mu      sync.Mutex
	buckets map[string]map[*subresource]storedConfig
}

var _ http.Handler = (*Shim)(nil)

// deletedBucketKey is the context key under which ServeHTTP marks a forwarded
// DeleteBucket request with the bucket's name.
type deletedBucketKey struct{}

// New returns a shim that forwards to the S3 server at backend (scheme and
// host only, such as http://127.0.0.1:7070) and checks bucket existence there
// with the given root credentials. An empty region means DefaultRegion.
func New(backend *url.URL, accessKey, secretKey, region string) (*Shim, error) {
	if backend == nil || backend.Host == "" || (backend.Scheme != "http" && backend.Scheme != "https") {
		return nil, fmt.Errorf("new s3 shim: backend must be an http(s)://host:port URL, got %v", backend)
	}
	if backend.Path != "" && backend.Path != "/" {
		return nil, fmt.Errorf("new s3 shim: backend URL %s must not have a path", backend)
	}
	if accessKey == "" || secretKey == "" {
		return nil, errors.New("new s3 shim: the backend's root access key and secret key are required")
	}
	if region == "" {
		region = DefaultRegion
	}
	backend = &url.URL{Scheme: backend.Scheme, Host: backend.Host}

	transport := &http.Transport{
		Proxy:               nil, // never send loopback test traffic to an environment proxy
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // forward bodies and Accept-Encoding untouched
	}
	s := &Shim{
		backend:   backend,
		transport: transport,
		buckets:   make(map[string]map[*subresource]storedConfig),
		client: s3.New(s3.Options{
			Region:       region,
			BaseEndpoint: aws.String(backend.String()),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
			HTTPClient:   &http.Client{Transport: transport},
		}),
	}
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = backend.Scheme
			pr.Out.URL.Host = backend.Host
			// SigV4 signs the Host header: keep the one the client used.
			pr.Out.Host = pr.In.Host
		},
		Transport:      transport,
		ModifyResponse: s.observeResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "InternalError",
				fmt.Sprintf("s3 shim: forward to %s: %v", backend.Host, err), "")
		},
	}
	return s, nil
}

// Backend returns the URL of the S3 server the shim forwards to.
func (s *Shim) Backend() *url.URL {
	u := *s.backend
	return &u
}

// Close releases the shim's idle connections to the backend.
func (s *Shim) Close() {
	s.transport.CloseIdleConnections()
}

// ServeHTTP answers the implemented bucket subresources and forwards every
// other request to the backend.
func (s *Shim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if bucket, ok := bucketOf(r.URL.Path); ok {
		q := r.URL.Query()
		if sub := subresourceOf(q); sub != nil &&
			(r.Method == http.MethodGet || r.Method == http.MethodPut || r.Method == http.MethodDelete) {
			s.serveSubresource(w, r, bucket, sub)
			return
		}
		if r.Method == http.MethodDelete && onlyOperationID(q) {
			r = r.WithContext(context.WithValue(r.Context(), deletedBucketKey{}, bucket))
		}
	}
	s.proxy.ServeHTTP(w, r)
}

// observeResponse forgets a bucket's configurations once the backend has
// deleted the bucket. It runs before the response reaches the client, so a
// client that re-creates the bucket right away never sees stale state.
func (s *Shim) observeResponse(resp *http.Response) error {
	if bucket, ok := resp.Request.Context().Value(deletedBucketKey{}).(string); ok &&
		resp.StatusCode >= 200 && resp.StatusCode < 300 {
		s.forget(bucket)
	}
	return nil
}

func (s *Shim) serveSubresource(w http.ResponseWriter, r *http.Request, bucket string, sub *subresource) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "IncompleteBody",
			fmt.Sprintf("s3 shim: read request body: %v", err), bucket)
		return
	}

	// Let the backend authenticate and authorize the request: it runs its
	// signature and policy checks before answering 501 for these routes.
	relayed, err := s.forwardUnlessNotImplemented(w, r, body)
	if err != nil {
		writeError(w, http.StatusBadGateway, "InternalError", err.Error(), bucket)
		return
	}
	if relayed {
		return
	}

	exists, err := s.bucketExists(r.Context(), bucket)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error(), bucket)
		return
	}
	if !exists {
		s.forget(bucket)
		writeError(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist", bucket)
		return
	}

	switch r.Method {
	case http.MethodPut:
		s.put(w, r, bucket, sub, body)
	case http.MethodGet:
		cfg, ok := s.load(bucket, sub)
		if !ok {
			writeError(w, http.StatusNotFound, sub.notFoundCode, sub.notFoundMessage, bucket)
			return
		}
		h := w.Header()
		for k, v := range cfg.header {
			h[k] = v
		}
		h.Set("Content-Type", "application/xml")
		h.Set("Content-Length", strconv.Itoa(len(cfg.body)))
		h.Set("X-Amz-Request-Id", newRequestID())
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(cfg.body)
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.buckets[bucket], sub)
		s.mu.Unlock()
		w.Header().Set("X-Amz-Request-Id", newRequestID())
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Shim) put(w http.ResponseWriter, r *http.Request, bucket string, sub *subresource, body []byte) {
	if isAWSChunked(r.Header) {
		decoded, err := decodeAWSChunked(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "IncompleteBody", err.Error(), bucket)
			return
		}
		body = decoded
	}
	doc, err := sub.normalize(body)
	var invalid *invalidArgumentError
	switch {
	case errors.As(err, &invalid):
		writeError(w, http.StatusBadRequest, "InvalidArgument", invalid.msg, bucket)
		return
	case errors.Is(err, errMalformed):
		writeError(w, http.StatusBadRequest, "MalformedXML",
			"The XML you provided was not well-formed or did not validate against our published schema", bucket)
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error(), bucket)
		return
	}

	header := http.Header{}
	if sub.query == "lifecycle" {
		size := r.Header.Get(minObjectSizeHeader)
		switch size {
		case "":
			size = "all_storage_classes_128K"
		case "all_storage_classes_128K", "varies_by_storage_class":
		default:
			writeError(w, http.StatusBadRequest, "InvalidArgument",
				fmt.Sprintf("invalid %s %q", minObjectSizeHeader, size), bucket)
			return
		}
		header.Set(minObjectSizeHeader, size)
	}

	s.mu.Lock()
	if s.buckets[bucket] == nil {
		s.buckets[bucket] = make(map[*subresource]storedConfig)
	}
	s.buckets[bucket][sub] = storedConfig{body: doc, header: header}
	s.mu.Unlock()

	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("X-Amz-Request-Id", newRequestID())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

func (s *Shim) load(bucket string, sub *subresource) (storedConfig, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, ok := s.buckets[bucket][sub]
	return cfg, ok
}

func (s *Shim) forget(bucket string) {
	s.mu.Lock()
	delete(s.buckets, bucket)
	s.mu.Unlock()
}

// forwardUnlessNotImplemented sends the request, unchanged, to the backend.
// When the backend answers anything but 501 NotImplemented, it relays that
// answer to the client and reports true.
func (s *Shim) forwardUnlessNotImplemented(w http.ResponseWriter, r *http.Request, body []byte) (bool, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme = s.backend.Scheme
	out.URL.Host = s.backend.Host
	out.Host = r.Host
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	out.TransferEncoding = nil
	out.Close = false
	removeHopByHop(out.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // no Go default User-Agent
	}

	resp, err := s.transport.RoundTrip(out)
	if err != nil {
		return false, fmt.Errorf("s3 shim: forward %s %s to %s: %w", r.Method, r.URL.RequestURI(), s.backend.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotImplemented {
		_, _ = io.Copy(io.Discard, resp.Body)
		return false, nil
	}
	removeHopByHop(resp.Header)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true, nil
}

// bucketExists asks the backend, with the root credentials, whether the
// bucket exists.
func (s *Shim) bucketExists(ctx context.Context, bucket string) (bool, error) {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return true, nil
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return false, nil
	}
	return false, fmt.Errorf("s3 shim: head bucket %q on %s: %w", bucket, s.backend.Host, err)
}

// bucketOf returns the bucket named by a path-style bucket URL path ("/b" or
// "/b/"), and false for the service root and object paths.
func bucketOf(path string) (string, bool) {
	p := strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/")
	if p == "" || strings.Contains(p, "/") {
		return "", false
	}
	return p, true
}

// subresourceOf returns the implemented subresource a query names, or nil
// when it names none or more than one.
func subresourceOf(q url.Values) *subresource {
	var found *subresource
	for _, sub := range subresources {
		if q.Has(sub.query) {
			if found != nil {
				return nil
			}
			found = sub
		}
	}
	return found
}

// onlyOperationID reports whether a query holds nothing but the x-id
// parameter the AWS SDKs add, as in a plain DeleteBucket.
func onlyOperationID(q url.Values) bool {
	for k := range q {
		if k != "x-id" {
			return false
		}
	}
	return true
}

// hopByHop lists the headers a proxy must not forward (RFC 9110, 7.6.1).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}

// writeError writes an S3 error document.
func writeError(w http.ResponseWriter, status int, code, message, bucket string) {
	id := newRequestID()
	out, err := xml.Marshal(errorDocument{Code: code, Message: message, BucketName: bucket, RequestID: id})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body := append([]byte(xml.Header), out...)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Request-Id", id)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newRequestID returns a random request ID in the style of S3's.
func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
