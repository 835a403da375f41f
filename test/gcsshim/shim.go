package gcsshim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// apiPrefix is the path of the Cloud Storage JSON API.
const apiPrefix = "/storage/v1"

// maxBody bounds the size of a bucket resource a client may send.
const maxBody = 1 << 20

// TokenValidator says whether an Authorization header bears a valid access
// token. *googleauth.Server (package test/fakes/googleauth) is one.
type TokenValidator interface {
	Valid(authorization string) bool
}

// Shim is the test-only Cloud Storage proxy described in the package
// documentation. It is an [http.Handler]; create it with New. Its methods
// are safe for concurrent use.
type Shim struct {
	backend   *url.URL
	tokens    TokenValidator
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	now       func() time.Time

	// writeMu serializes the bucket operations that change state, each of
	// which is one or two emulator calls and a state change.
	writeMu sync.Mutex
	mu      sync.Mutex
	buckets map[string]*bucketState
}

var _ http.Handler = (*Shim)(nil)

// New returns a shim that forwards to the fake-gcs-server at backend (scheme
// and host only, such as http://127.0.0.1:4443) and lets through only
// requests whose bearer token tokens accepts.
func New(backend *url.URL, tokens TokenValidator) (*Shim, error) {
	if backend == nil || backend.Host == "" || (backend.Scheme != "http" && backend.Scheme != "https") {
		return nil, fmt.Errorf("new gcs shim: backend must be an http(s)://host:port URL, got %v", backend)
	}
	if backend.Path != "" && backend.Path != "/" {
		return nil, fmt.Errorf("new gcs shim: backend URL %s must not have a path", backend)
	}
	if tokens == nil {
		return nil, errors.New("new gcs shim: a token validator is required")
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
		tokens:    tokens,
		transport: transport,
		now:       time.Now,
		buckets:   map[string]*bucketState{},
	}
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backend)
		},
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "backendError", fmt.Sprintf("gcs shim: forward to %s: %v", backend.Host, err))
		},
	}
	return s, nil
}

// Backend returns the URL of the emulator the shim forwards to.
func (s *Shim) Backend() *url.URL {
	u := *s.backend
	return &u
}

// Close releases the shim's idle connections to the backend.
func (s *Shim) Close() {
	s.transport.CloseIdleConnections()
}

// ServeHTTP refuses requests without a valid token, answers the bucket
// resource's requests and forwards every other request to the backend.
func (s *Shim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.tokens.Valid(r.Header.Get("Authorization")) {
		writeUnauthenticated(w)
		return
	}
	bucket, isBucket, isCollection := route(r.URL.EscapedPath())
	method := r.Method
	if method == http.MethodPost && r.Header.Get("X-HTTP-Method-Override") != "" {
		method = strings.ToUpper(r.Header.Get("X-HTTP-Method-Override"))
	}
	switch {
	case isCollection && method == http.MethodPost:
		s.insert(w, r)
	case isCollection && method == http.MethodGet:
		s.list(w, r)
	case isBucket && method == http.MethodGet:
		s.get(w, r, bucket)
	case isBucket && method == http.MethodPatch:
		s.patch(w, r, bucket, false)
	case isBucket && method == http.MethodPut:
		s.patch(w, r, bucket, true)
	case isBucket && method == http.MethodDelete:
		s.delete(w, r, bucket)
	default:
		s.proxy.ServeHTTP(w, r)
	}
}

// route reports whether an escaped path is the bucket collection or one
// bucket, and which.
func route(path string) (bucket string, isBucket, isCollection bool) {
	rest, ok := strings.CutPrefix(path, apiPrefix+"/b")
	if !ok {
		return "", false, false
	}
	if rest == "" || rest == "/" {
		return "", false, true
	}
	name, ok := strings.CutPrefix(rest, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false, false
	}
	name, err := url.PathUnescape(name)
	if err != nil {
		return "", false, false
	}
	return name, true, false
}

// insert creates a bucket: the emulator creates it, the shim keeps the
// fields the emulator ignores.
func (s *Shim) insert(w http.ResponseWriter, r *http.Request) {
	body, res, ok := readResource(w, r)
	if !ok {
		return
	}
	if r.URL.Query().Get("project") == "" {
		writeError(w, http.StatusBadRequest, "required", "Required parameter: project")
		return
	}
	var name string
	if raw, ok := res["name"]; ok {
		_ = json.Unmarshal(raw, &name)
	}
	st := newBucketState()
	if err := applyInsert(st, res, s.now()); err != nil {
		writeInvalid(w, err)
		return
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	resp, err := s.forward(r.Context(), r, http.MethodPost, r.URL.RequestURI(), body)
	if err != nil {
		writeError(w, http.StatusBadGateway, "backendError", err.Error())
		return
	}
	if resp.status/100 == 2 {
		s.store(name, st)
	}
	s.writeBucket(w, resp)
}

// get returns a bucket with its stored fields.
func (s *Shim) get(w http.ResponseWriter, r *http.Request, bucket string) {
	resp, err := s.forward(r.Context(), r, http.MethodGet, r.URL.RequestURI(), nil)
	if err != nil {
		writeError(w, http.StatusBadGateway, "backendError", err.Error())
		return
	}
	s.writeBucket(w, resp)
}

// list returns buckets with their stored fields.
func (s *Shim) list(w http.ResponseWriter, r *http.Request) {
	resp, err := s.forward(r.Context(), r, http.MethodGet, r.URL.RequestURI(), nil)
	if err != nil {
		writeError(w, http.StatusBadGateway, "backendError", err.Error())
		return
	}
	if resp.status == http.StatusOK {
		var list map[string]json.RawMessage
		if err := json.Unmarshal(resp.body, &list); err == nil {
			var items []map[string]json.RawMessage
			if raw, ok := list["items"]; ok && json.Unmarshal(raw, &items) == nil {
				for _, item := range items {
					if err := s.decorate(item); err != nil {
						writeError(w, http.StatusBadGateway, "backendError", err.Error())
						return
					}
				}
				if b, err := json.Marshal(items); err == nil {
					list["items"] = b
				}
				if b, err := json.Marshal(list); err == nil {
					resp.body = b
				}
			}
		}
	}
	writeResponse(w, resp)
}

// patch changes a bucket: with replace false a patch, with replace true an
// update (PUT) that replaces every field. The emulator has no update and its
// patch resets versioning and defaultEventBasedHold when the request leaves
// them out, so the shim sends it a patch with their current values added.
func (s *Shim) patch(w http.ResponseWriter, r *http.Request, bucket string, replace bool) {
	_, res, ok := readResource(w, r)
	if !ok {
		return
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	current, err := s.forward(r.Context(), r, http.MethodGet, apiPrefix+"/b/"+url.PathEscape(bucket), nil)
	if err != nil {
		writeError(w, http.StatusBadGateway, "backendError", err.Error())
		return
	}
	if current.status != http.StatusOK {
		writeResponse(w, current)
		return
	}
	var cur map[string]json.RawMessage
	if err := json.Unmarshal(current.body, &cur); err != nil {
		writeError(w, http.StatusBadGateway, "backendError", fmt.Sprintf("gcs shim: the emulator's bucket: %v", err))
		return
	}

	st := s.load(bucket).clone()
	if replace {
		err = applyUpdate(st, res, s.now())
	} else {
		err = applyPatch(st, res, s.now())
	}
	if err != nil {
		writeInvalid(w, err)
		return
	}

	// What the emulator implements goes to it, the rest stays here.
	out := map[string]json.RawMessage{}
	for k, v := range res {
		switch k {
		case fieldLocation, fieldLabels, fieldIAM, fieldLifecycle, fieldEncryption:
		default:
			out[k] = v
		}
	}
	for _, k := range []string{"versioning", "defaultEventBasedHold"} {
		if _, ok := out[k]; !ok && !replace && cur[k] != nil {
			out[k] = cur[k]
		}
	}
	if v, ok := out["versioning"]; !ok || isNull(v) {
		out["versioning"] = json.RawMessage(`{"enabled":false}`)
	}
	if v, ok := out["defaultEventBasedHold"]; !ok || isNull(v) {
		out["defaultEventBasedHold"] = json.RawMessage(`false`)
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	resp, err := s.forward(r.Context(), r, http.MethodPatch, r.URL.RequestURI(), body)
	if err != nil {
		writeError(w, http.StatusBadGateway, "backendError", err.Error())
		return
	}
	if resp.status/100 == 2 {
		s.store(bucket, st)
	}
	s.writeBucket(w, resp)
}

// delete deletes a bucket and, once the emulator has, its stored fields.
func (s *Shim) delete(w http.ResponseWriter, r *http.Request, bucket string) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	resp, err := s.forward(r.Context(), r, http.MethodDelete, r.URL.RequestURI(), nil)
	if err != nil {
		writeError(w, http.StatusBadGateway, "backendError", err.Error())
		return
	}
	if resp.status/100 == 2 {
		s.mu.Lock()
		delete(s.buckets, bucket)
		s.mu.Unlock()
	}
	writeResponse(w, resp)
}

// load returns the state of a bucket: the stored one, else Cloud Storage's
// defaults with the emulator's location.
func (s *Shim) load(bucket string) *bucketState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.buckets[bucket]; ok {
		return st
	}
	return newBucketState()
}

func (s *Shim) store(bucket string, st *bucketState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buckets[bucket] = st
}

// decorate merges a bucket's state into the emulator's resource.
func (s *Shim) decorate(res map[string]json.RawMessage) error {
	var name string
	if err := json.Unmarshal(res["name"], &name); err != nil {
		return fmt.Errorf("gcs shim: the emulator's bucket has no name: %w", err)
	}
	return render(res, s.load(name))
}

// writeBucket writes the emulator's answer about one bucket, with the
// bucket's stored fields merged in when it is a success.
func (s *Shim) writeBucket(w http.ResponseWriter, resp *response) {
	if resp.status == http.StatusOK {
		var res map[string]json.RawMessage
		if err := json.Unmarshal(resp.body, &res); err != nil {
			writeError(w, http.StatusBadGateway, "backendError", fmt.Sprintf("gcs shim: the emulator's bucket: %v", err))
			return
		}
		if err := s.decorate(res); err != nil {
			writeError(w, http.StatusBadGateway, "backendError", err.Error())
			return
		}
		b, err := json.Marshal(res)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internalError", err.Error())
			return
		}
		resp.body = b
	}
	writeResponse(w, resp)
}

// readResource reads a request's JSON object, answering 400 if it is not
// one. An empty body is an empty object.
func readResource(w http.ResponseWriter, r *http.Request) ([]byte, map[string]json.RawMessage, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "parseError", fmt.Sprintf("gcs shim: read request body: %v", err))
		return nil, nil, false
	}
	res := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &res); err != nil {
			writeError(w, http.StatusBadRequest, "parseError", "Parse Error: "+err.Error())
			return nil, nil, false
		}
	}
	return body, res, true
}

// response is an answer of the backend, read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// forward sends a request to the backend with the incoming request's
// headers, less those that describe its connection or body.
func (s *Shim) forward(ctx context.Context, in *http.Request, method, requestURI string, body []byte) (*response, error) {
	target, err := url.Parse(s.backend.String() + requestURI)
	if err != nil {
		return nil, fmt.Errorf("gcs shim: %w", err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	out, err := http.NewRequestWithContext(ctx, method, target.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("gcs shim: %w", err)
	}
	for k, vs := range in.Header {
		out.Header[k] = vs
	}
	removeHopByHop(out.Header)
	for _, k := range []string{"Content-Length", "Accept-Encoding", "X-Http-Method-Override"} {
		out.Header.Del(k)
	}
	if body != nil {
		out.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.transport.RoundTrip(out)
	if err != nil {
		return nil, fmt.Errorf("gcs shim: forward to %s: %w", s.backend.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("gcs shim: read the answer of %s: %w", s.backend.Host, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// removeHopByHop removes the headers that describe one connection.
func removeHopByHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, k := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(k))
		}
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(k)
	}
}

func writeResponse(w http.ResponseWriter, resp *response) {
	h := resp.header.Clone()
	removeHopByHop(h)
	h.Del("Content-Length")
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// apiError is the error document of the Cloud Storage JSON API.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    int           `json:"code"`
	Message string        `json:"message"`
	Errors  []apiErrorRow `json:"errors"`
	Status  string        `json:"status,omitempty"`
}

type apiErrorRow struct {
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Message      string `json:"message"`
	LocationType string `json:"locationType,omitempty"`
	Location     string `json:"location,omitempty"`
}

func writeErrorDoc(w http.ResponseWriter, doc apiError) {
	b, _ := json.Marshal(doc)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(doc.Error.Code)
	_, _ = w.Write(b)
}

// writeError answers with an error document.
func writeError(w http.ResponseWriter, status int, reason, message string) {
	writeErrorDoc(w, apiError{Error: apiErrorBody{
		Code:    status,
		Message: message,
		Errors:  []apiErrorRow{{Domain: "global", Reason: reason, Message: message}},
	}})
}

// writeInvalid answers 400 for a value Cloud Storage would refuse.
func writeInvalid(w http.ResponseWriter, err error) {
	reason := "invalid"
	var ie *invalidError
	if errors.As(err, &ie) {
		reason = ie.reason
	}
	writeError(w, http.StatusBadRequest, reason, err.Error())
}

// writeUnauthenticated answers a request without a valid token as Cloud
// Storage does.
func writeUnauthenticated(w http.ResponseWriter) {
	const msg = "Invalid Credentials"
	w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	writeErrorDoc(w, apiError{Error: apiErrorBody{
		Code:    http.StatusUnauthorized,
		Message: msg,
		Errors: []apiErrorRow{{
			Domain: "global", Reason: "authError", Message: msg,
			LocationType: "header", Location: "Authorization",
		}},
		Status: "UNAUTHENTICATED",
	}})
}
