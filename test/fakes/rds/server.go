package rds

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Protocol constants.
const (
	// APIVersion is the RDS API version the fake speaks.
	APIVersion = "2014-10-31"
	// Namespace is the XML namespace of the fake's answers.
	Namespace = "http://rds.amazonaws.com/doc/2014-10-31/"
	// SigningName is the service name in a SigV4 credential scope.
	SigningName = "rds"
)

// Defaults of a fake.
const (
	// DefaultAccessKeyID and DefaultSecretAccessKey are the credentials
	// every fake accepts.
	DefaultAccessKeyID     = "AKIAFAKERDS000000001"
	DefaultSecretAccessKey = "fake/RDS+secret/0123456789abcdefghijklmn"
	// DefaultAccountID is the account in ARNs.
	DefaultAccountID = "123456789012"
	// DefaultTransitionDelay is how long, on the fake's clock, an instance
	// stays in each transitional state (creating, backing-up, modifying,
	// deleting).
	DefaultTransitionDelay = 200 * time.Millisecond
	// DefaultStorageQuotaGB is RDS's default quota of allocated storage for
	// all instances of an account in a region.
	DefaultStorageQuotaGB = 100000
	// DefaultInstanceQuota is RDS's default quota of instances per region.
	DefaultInstanceQuota = 40
)

// maxBodyBytes bounds the request bodies the fake reads.
const maxBodyBytes = 1 << 20

// config is what the options set.
type config struct {
	credentials     map[string]string
	accountID       string
	transitionDelay time.Duration
	describesPer    int
	now             func() time.Time
	storageQuotaGB  int64
	instanceQuota   int
}

// Option configures a fake.
type Option func(*config)

// WithCredentials makes the fake accept another access key and its secret
// besides DefaultAccessKeyID.
func WithCredentials(accessKeyID, secretAccessKey string) Option {
	return func(c *config) { c.credentials[accessKeyID] = secretAccessKey }
}

// WithAccountID sets the account in ARNs. The default is DefaultAccountID.
func WithAccountID(id string) Option {
	return func(c *config) { c.accountID = id }
}

// WithTransitionDelay sets how long each transitional state lasts on the
// fake's clock; zero or less means that time never ends one, so that only
// Describe calls (WithDescribesPerTransition), Settle or
// RunMaintenanceWindow move instances on. The default is
// DefaultTransitionDelay.
func WithTransitionDelay(d time.Duration) Option {
	return func(c *config) { c.transitionDelay = d }
}

// WithDescribesPerTransition makes each transitional state end once n
// DescribeDBInstances answers have shown it (the next answer shows the next
// state); zero turns this off, which is the default. Time still ends states
// too unless WithTransitionDelay(0) is also given.
func WithDescribesPerTransition(n int) Option {
	return func(c *config) { c.describesPer = max(n, 0) }
}

// WithClock sets the fake's clock, which drives transitions and timestamps.
// Advance moves it further. The default is time.Now. Signature expiry is
// always checked against the real time, as AWS does.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithStorageQuotaGB sets the quota of allocated storage per region beyond
// which CreateDBInstance answers StorageQuotaExceeded. The default is
// DefaultStorageQuotaGB.
func WithStorageQuotaGB(gb int64) Option {
	return func(c *config) { c.storageQuotaGB = gb }
}

// WithInstanceQuota sets the number of instances per region beyond which
// CreateDBInstance answers InstanceQuotaExceeded. The default is
// DefaultInstanceQuota.
func WithInstanceQuota(n int) Option {
	return func(c *config) { c.instanceQuota = n }
}

// Handler is the fake RDS API as an http.Handler.
type Handler struct {
	cfg config

	mu        sync.Mutex
	offset    time.Duration        // added to cfg.now by Advance
	instances map[string]*instance // by region/identifier
	snapshots map[string]Snapshot  // by region/identifier
	calls     map[string]int       // by action
	throttle  int                  // calls still to throttle
}

// New returns a fake RDS API.
func New(opts ...Option) *Handler {
	cfg := config{
		credentials:     map[string]string{DefaultAccessKeyID: DefaultSecretAccessKey},
		accountID:       DefaultAccountID,
		transitionDelay: DefaultTransitionDelay,
		now:             time.Now,
		storageQuotaGB:  DefaultStorageQuotaGB,
		instanceQuota:   DefaultInstanceQuota,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return &Handler{
		cfg:       cfg,
		instances: map[string]*instance{},
		snapshots: map[string]Snapshot{},
		calls:     map[string]int{},
	}
}

// Server is a fake RDS API listening on loopback.
type Server struct {
	*Handler
	// URL is the endpoint, such as http://127.0.0.1:41234, for an SDK
	// client's BaseEndpoint.
	URL string
	srv *httptest.Server
}

// Start starts a fake RDS API on a loopback port.
func Start(opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start fake RDS server: %w", err)
	}
	h := New(opts...)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	srv.Start()
	return &Server{Handler: h, URL: srv.URL, srv: srv}, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// now is the fake's clock. The caller holds mu.
func (h *Handler) now() time.Time { return h.cfg.now().Add(h.offset).UTC() }

// Advance moves the fake's clock forward by d; instances whose transitions
// are due move on at the next request (or Instance call).
func (h *Handler) Advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.offset += d
	h.tick()
}

// Settle finishes every transition under way: created instances become
// available, modifications applied immediately are applied, and deleted
// instances are gone.
func (h *Handler) Settle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key, in := range h.instances {
		for in.transitional() {
			if gone := in.step(h.now()); gone {
				delete(h.instances, key)
				break
			}
		}
	}
}

// RunMaintenanceWindow applies the modifications queued without
// ApplyImmediately, as RDS does in an instance's maintenance window. It
// applies them at once, without a modifying state.
func (h *Handler) RunMaintenanceWindow() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tick()
	for _, in := range h.instances {
		if in.status == statusAvailable {
			in.applyPending()
		}
	}
}

// ThrottleNext makes the next n authenticated calls answer 400 Throttling
// "Rate exceeded" without doing anything.
func (h *Handler) ThrottleNext(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.throttle = max(n, 0)
}

// Calls returns how many authenticated calls of an action, such as
// "CreateDBInstance", the fake received, throttled ones included.
func (h *Handler) Calls(action string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[action]
}

// CallCounts returns the number of authenticated calls by action.
func (h *Handler) CallCounts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.calls)
}

// ResetCalls forgets the calls counted so far.
func (h *Handler) ResetCalls() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.calls)
}

// Instance returns the state of an instance, after any transition that is
// due.
func (h *Handler) Instance(region, id string) (Instance, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tick()
	in, ok := h.instances[instanceKey(region, id)]
	if !ok {
		return Instance{}, false
	}
	return in.export(), true
}

// Instances returns the identifiers of the instances in a region, sorted.
func (h *Handler) Instances(region string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tick()
	var ids []string
	for _, in := range h.instances {
		if in.region == region {
			ids = append(ids, in.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Snapshots returns the final snapshots DeleteDBInstance took, sorted by
// identifier.
func (h *Handler) Snapshots() []Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Collect(maps.Values(h.snapshots))
	slices.SortFunc(out, func(a, b Snapshot) int {
		if a.Identifier < b.Identifier {
			return -1
		}
		if a.Identifier > b.Identifier {
			return 1
		}
		return 0
	})
	return out
}

// MasterPasswordIs reports whether an instance's master password, pending
// changes applied, is password.
func (h *Handler) MasterPasswordIs(region, id, password string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	in, ok := h.instances[instanceKey(region, id)]
	if !ok {
		return false
	}
	want := in.password
	if in.pending.password != nil {
		want = *in.pending.password
	}
	return want == sha256.Sum256([]byte(password))
}

// tick moves on every instance whose transition is due by the clock. The
// caller holds mu.
func (h *Handler) tick() {
	if h.cfg.transitionDelay <= 0 {
		return
	}
	now := h.now()
	for key, in := range h.instances {
		for in.transitional() && !now.Before(in.since.Add(h.cfg.transitionDelay)) {
			if gone := in.step(in.since.Add(h.cfg.transitionDelay)); gone {
				delete(h.instances, key)
				break
			}
		}
	}
}

// ServeHTTP answers one Query API request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("X-Amzn-Requestid", reqID)

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		writeError(w, reqID, errorf(http.StatusBadRequest, "MalformedQueryString", "cannot read the request body"))
		return
	}
	if len(body) > maxBodyBytes {
		writeError(w, reqID, errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body must be less than %d bytes", maxBodyBytes))
		return
	}
	var params url.Values
	switch r.Method {
	case http.MethodPost:
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			writeError(w, reqID, errorf(http.StatusBadRequest, "InvalidParameterValue", "Content-Type must be application/x-www-form-urlencoded"))
			return
		}
		params, err = url.ParseQuery(string(body))
	case http.MethodGet:
		params, err = url.ParseQuery(r.URL.RawQuery)
	default:
		writeError(w, reqID, errorf(http.StatusMethodNotAllowed, "InvalidHttpRequest", "The HTTP method %s is not supported", r.Method))
		return
	}
	if err != nil {
		writeError(w, reqID, errorf(http.StatusBadRequest, "MalformedQueryString", "The query string is malformed"))
		return
	}

	region, aerr := h.authenticate(r, body)
	if aerr != nil {
		writeError(w, reqID, aerr)
		return
	}

	action := params.Get("Action")
	if action == "" {
		writeError(w, reqID, errorf(http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action"))
		return
	}
	switch v := params.Get("Version"); {
	case v == "":
		writeError(w, reqID, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter Version"))
		return
	case v != APIVersion:
		writeError(w, reqID, errorf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", action, v))
		return
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[action]++
	if h.throttle > 0 {
		h.throttle--
		writeError(w, reqID, errorf(http.StatusBadRequest, "Throttling", "Rate exceeded"))
		return
	}
	h.tick()
	result, aerr := h.dispatch(action, region, query{params})
	if aerr != nil {
		writeError(w, reqID, aerr)
		return
	}
	writeResult(w, reqID, action, result)
}

// dispatch runs an action. The caller holds mu.
func (h *Handler) dispatch(action, region string, q query) (any, *apiError) {
	switch action {
	case "CreateDBInstance":
		return h.createDBInstance(region, q)
	case "DescribeDBInstances":
		return h.describeDBInstances(region, q)
	case "ModifyDBInstance":
		return h.modifyDBInstance(region, q)
	case "DeleteDBInstance":
		return h.deleteDBInstance(region, q)
	case "AddTagsToResource":
		return h.addTagsToResource(region, q)
	case "ListTagsForResource":
		return h.listTagsForResource(region, q)
	}
	return nil, errorf(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.", action)
}

// newRequestID returns a random request id in the UUID form AWS uses.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
