// Package cloudsql is a test-only fake of the Cloud SQL Admin API v1: the
// JSON-over-REST protocol under /v1/projects/{project}/... that
// google.golang.org/api/sqladmin/v1 speaks, for instances (insert, get,
// patch, delete), databases (insert, get, patch, delete), users (insert,
// list, update, delete) and operations (get).
//
// It keeps what makes Cloud SQL hard to drive: every mutation returns an
// Operation that goes PENDING, RUNNING, DONE while the instance is busy (a
// second mutation meanwhile gets 409 operationInProgress); an instance is
// PENDING_CREATE until its create operation is done, MAINTENANCE while a
// patch applies (the new settings show once it is done) and PENDING_DELETE
// while it is deleted; databases and users can only be read or changed on a
// RUNNABLE instance; PATCH merges only the fields sent (settings.userLabels
// label by label, a label sent as null removed); errors have Google's
// JSON shape and reasons; passwords are never returned. Operations advance
// with time (WithOperationDelay) or only when the test says so
// (WithManualOperations, Advance, Settle).
//
// Start runs it behind the fake OAuth token endpoint of package googleauth,
// so that clients authenticate with a real service-account key.
package cloudsql

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/stratus-operator/stratus/test/fakes/googleauth"
)

// The API methods the fake serves, as the discovery document names them.
// Calls counts requests by these names.
const (
	MethodInstancesInsert = "sql.instances.insert"
	MethodInstancesGet    = "sql.instances.get"
	MethodInstancesPatch  = "sql.instances.patch"
	MethodInstancesDelete = "sql.instances.delete"
	MethodDatabasesInsert = "sql.databases.insert"
	MethodDatabasesGet    = "sql.databases.get"
	MethodDatabasesPatch  = "sql.databases.patch"
	MethodDatabasesDelete = "sql.databases.delete"
	MethodUsersInsert     = "sql.users.insert"
	MethodUsersList       = "sql.users.list"
	MethodUsersUpdate     = "sql.users.update"
	MethodUsersDelete     = "sql.users.delete"
	MethodOperationsGet   = "sql.operations.get"
)

// Instance states.
const (
	StatePendingCreate = "PENDING_CREATE"
	StateRunnable      = "RUNNABLE"
	StateMaintenance   = "MAINTENANCE"
	StatePendingDelete = "PENDING_DELETE"
	StateFailed        = "FAILED"
)

// Operation statuses.
const (
	OperationPending = "PENDING"
	OperationRunning = "RUNNING"
	OperationDone    = "DONE"
)

// Operation types.
const (
	OperationCreate              = "CREATE"
	OperationUpdate              = "UPDATE"
	OperationDelete              = "DELETE"
	OperationMajorVersionUpgrade = "MAJOR_VERSION_UPGRADE"
	OperationCreateDatabase      = "CREATE_DATABASE"
	OperationUpdateDatabase      = "UPDATE_DATABASE"
	OperationDeleteDatabase      = "DELETE_DATABASE"
	OperationCreateUser          = "CREATE_USER"
	OperationUpdateUser          = "UPDATE_USER"
	OperationDeleteUser          = "DELETE_USER"
)

// Error reasons, as Cloud SQL puts them in error.errors[].reason.
const (
	ReasonInstanceAlreadyExists = "instanceAlreadyExists"
	ReasonInstanceDoesNotExist  = "instanceDoesNotExist"
	ReasonOperationInProgress   = "operationInProgress"
	ReasonOperationDoesNotExist = "operationDoesNotExist"
	ReasonInvalid               = "invalid"
	ReasonNotFound              = "notFound"
	ReasonAlreadyExists         = "alreadyExists"
	ReasonNotAuthorized         = "notAuthorized"
	ReasonRateLimitExceeded     = "rateLimitExceeded"
	ReasonParseError            = "parseError"
)

// Editions.
const (
	EditionEnterprise     = "ENTERPRISE"
	EditionEnterprisePlus = "ENTERPRISE_PLUS"
)

// Defaults.
const (
	// DefaultOperationDelay is how long an operation takes, from the call
	// that started it to DONE; it is RUNNING from a quarter of it.
	DefaultOperationDelay = 300 * time.Millisecond
	// DefaultProjectID is the project Start serves.
	DefaultProjectID = "stratus-test"
	// DefaultRegion is the region of an instance inserted without one, as
	// in Cloud SQL.
	DefaultRegion = "us-central1"
	// DefaultDatabaseVersion is the version of an instance inserted without
	// one, as in Cloud SQL.
	DefaultDatabaseVersion = "MYSQL_8_0"
	// NameReuseDelay is how long the name of a deleted instance stays
	// taken.
	NameReuseDelay = 7 * 24 * time.Hour
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// APIError is an error answer: the HTTP status and the fields of Google's
// error JSON.
type APIError struct {
	Code    int
	Status  string
	Reason  string
	Message string
}

// Option configures a Fake.
type Option func(*config)

type config struct {
	projectID string
	user      string
	delay     time.Duration
	manual    bool
	now       func() time.Time
}

// WithProjectID sets the project the fake serves; requests for other
// projects get 403 notAuthorized, as from Cloud SQL.
func WithProjectID(id string) Option { return func(c *config) { c.projectID = id } }

// WithOperationDelay sets how long each operation takes. Values below zero
// are ignored.
func WithOperationDelay(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.delay = d
		}
	}
}

// WithManualOperations makes operations advance only when the test calls
// Advance or Settle.
func WithManualOperations() Option { return func(c *config) { c.manual = true } }

// WithClock replaces time.Now, for the timestamps and the operation delay.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// withUser sets the address operations name as their user.
func withUser(email string) Option { return func(c *config) { c.user = email } }

// Fake is the Cloud SQL Admin API, without authentication: wrap it with
// googleauth's Require (Start does).
type Fake struct {
	cfg config

	mu        sync.Mutex
	instances map[string]*instance
	deleted   map[string]time.Time // name → deletion time
	ops       map[string]*operation
	open      []*operation // not DONE, in creation order
	calls     map[string]int
	inject    []injection
	failOps   []*sqladmin.OperationError
	addresses int
}

// injection is an error answered to the next calls.
type injection struct {
	err  APIError
	left int
}

// New returns a fake with no instances.
func New(opts ...Option) *Fake {
	cfg := config{projectID: DefaultProjectID, user: "stratus@" + DefaultProjectID + ".iam.gserviceaccount.com", delay: DefaultOperationDelay, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	return &Fake{
		cfg:       cfg,
		instances: map[string]*instance{},
		deleted:   map[string]time.Time{},
		ops:       map[string]*operation{},
		calls:     map[string]int{},
	}
}

// ProjectID is the project the fake serves.
func (f *Fake) ProjectID() string { return f.cfg.projectID }

// ThrottleNext makes the next n calls fail with 429 rateLimitExceeded, as
// Cloud SQL answers when the per-minute quota is spent.
func (f *Fake) ThrottleNext(n int) {
	f.FailNext(n, APIError{
		Code:    http.StatusTooManyRequests,
		Status:  "RESOURCE_EXHAUSTED",
		Reason:  ReasonRateLimitExceeded,
		Message: fmt.Sprintf("Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'sqladmin.googleapis.com' for consumer 'project_number:%s'.", f.cfg.projectID),
	})
}

// FailNext makes the next n calls fail with e, before they do anything.
func (f *Fake) FailNext(n int, e APIError) {
	if e.Status == "" {
		e.Status = statusOf(e.Code)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = append(f.inject, injection{err: e, left: n})
}

// FailNextOperation makes the next operation that starts end DONE with an
// error of this code and message, and without effect (a failed create leaves
// the instance FAILED).
func (f *Fake) FailNextOperation(code, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failOps = append(f.failOps, &sqladmin.OperationError{Kind: "sql#operationError", Code: code, Message: message})
}

// Advance moves every unfinished operation one step: PENDING to RUNNING,
// RUNNING to DONE.
func (f *Fake) Advance() {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.now()
	for _, op := range slices.Clone(f.open) {
		if op.op.Status == OperationPending {
			f.start(op, now)
		} else {
			f.finish(op, now)
		}
	}
}

// Settle finishes every unfinished operation.
func (f *Fake) Settle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.now()
	for _, op := range slices.Clone(f.open) {
		f.finish(op, now)
	}
}

// Calls returns how many requests for an API method (such as
// MethodInstancesGet) reached the fake, failed ones included.
func (f *Fake) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// CallCounts returns the counts of every method called.
func (f *Fake) CallCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.calls)
}

// ResetCalls zeroes the counts.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.calls)
}

// Instance returns a copy of an instance as instances.get would, and
// whether it exists.
func (f *Fake) Instance(name string) (*sqladmin.DatabaseInstance, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick()
	in, ok := f.instances[name]
	if !ok {
		return nil, false
	}
	return copyOf(&in.db), true
}

// UserPassword returns the password of a user of an instance, which the API
// never returns, and whether the user exists.
func (f *Fake) UserPassword(instance, user string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick()
	in, ok := f.instances[instance]
	if !ok {
		return "", false
	}
	for _, u := range in.users {
		if u.u.Name == user {
			return u.password, true
		}
	}
	return "", false
}

// ServeHTTP serves one API request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := route(r)
	if !ok {
		writeError(w, APIError{Code: http.StatusNotFound, Reason: ReasonNotFound,
			Message: fmt.Sprintf("The requested URL %s was not found on this server.", r.URL.Path)})
		return
	}
	var body []byte
	if r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodPut {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, APIError{Code: http.StatusBadRequest, Reason: ReasonParseError, Message: "Cannot read the request body."})
			return
		}
		body = b
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[rt.method]++
	if len(f.inject) > 0 {
		e := f.inject[0].err
		if f.inject[0].left--; f.inject[0].left <= 0 {
			f.inject = f.inject[1:]
		}
		writeError(w, e)
		return
	}
	if rt.project != f.cfg.projectID {
		writeError(w, APIError{Code: http.StatusForbidden, Reason: ReasonNotAuthorized,
			Message: "The client is not authorized to make this request."})
		return
	}
	f.tick()
	c := call{f: f, w: w, r: r, rt: rt, body: body, now: f.cfg.now(), base: baseURL(r)}
	c.serve()
}

// routed is a request's API method and path parameters.
type routed struct {
	method   string
	project  string
	instance string
	child    string // database or operation name
}

// route maps a request to its API method.
func route(r *http.Request) (routed, bool) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/projects/")
	if !ok {
		return routed{}, false
	}
	var seg []string
	for s := range strings.SplitSeq(rest, "/") {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return routed{}, false
		}
		seg = append(seg, u)
	}
	rt := routed{project: seg[0]}
	m := r.Method
	switch {
	case len(seg) == 2 && seg[1] == "instances" && m == http.MethodPost:
		rt.method = MethodInstancesInsert
	case len(seg) == 3 && seg[1] == "instances":
		rt.instance = seg[2]
		rt.method = map[string]string{http.MethodGet: MethodInstancesGet, http.MethodPatch: MethodInstancesPatch, http.MethodDelete: MethodInstancesDelete}[m]
	case len(seg) == 4 && seg[1] == "instances" && seg[3] == "databases" && m == http.MethodPost:
		rt.instance = seg[2]
		rt.method = MethodDatabasesInsert
	case len(seg) == 5 && seg[1] == "instances" && seg[3] == "databases":
		rt.instance, rt.child = seg[2], seg[4]
		rt.method = map[string]string{http.MethodGet: MethodDatabasesGet, http.MethodPatch: MethodDatabasesPatch, http.MethodDelete: MethodDatabasesDelete}[m]
	case len(seg) == 4 && seg[1] == "instances" && seg[3] == "users":
		rt.instance = seg[2]
		rt.method = map[string]string{http.MethodPost: MethodUsersInsert, http.MethodGet: MethodUsersList, http.MethodPut: MethodUsersUpdate, http.MethodDelete: MethodUsersDelete}[m]
	case len(seg) == 3 && seg[1] == "operations" && m == http.MethodGet:
		rt.child = seg[2]
		rt.method = MethodOperationsGet
	}
	return rt, rt.method != ""
}

// baseURL is the URL the request was sent to, without its path: the base of
// the selfLinks the fake returns.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// call is one request being served, with the fake locked.
type call struct {
	f    *Fake
	w    http.ResponseWriter
	r    *http.Request
	rt   routed
	body []byte
	now  time.Time
	base string
}

func (c *call) serve() {
	switch c.rt.method {
	case MethodInstancesInsert:
		c.insertInstance()
	case MethodInstancesGet:
		c.getInstance()
	case MethodInstancesPatch:
		c.patchInstance()
	case MethodInstancesDelete:
		c.deleteInstance()
	case MethodDatabasesInsert:
		c.insertDatabase()
	case MethodDatabasesGet:
		c.getDatabase()
	case MethodDatabasesPatch:
		c.patchDatabase()
	case MethodDatabasesDelete:
		c.deleteDatabase()
	case MethodUsersInsert:
		c.insertUser()
	case MethodUsersList:
		c.listUsers()
	case MethodUsersUpdate:
		c.updateUser()
	case MethodUsersDelete:
		c.deleteUser()
	case MethodOperationsGet:
		c.getOperation()
	}
}

// decode parses the request body into v, and also returns it as a map, so
// that a handler can tell a field sent as false or zero from one not sent.
// It answers 400 and returns false when the body is not JSON.
func (c *call) decode(v any) (map[string]any, bool) {
	raw := map[string]any{}
	if err := json.Unmarshal(c.body, &raw); err != nil {
		c.fail(APIError{Code: http.StatusBadRequest, Reason: ReasonParseError, Message: "Invalid JSON payload received. " + err.Error()})
		return nil, false
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		c.fail(APIError{Code: http.StatusBadRequest, Reason: ReasonParseError, Message: "Invalid JSON payload received. " + err.Error()})
		return nil, false
	}
	return raw, true
}

func (c *call) reply(v any) { writeJSON(c.w, http.StatusOK, v) }

func (c *call) fail(e APIError) { writeError(c.w, e) }

// invalid answers 400 invalid, as Cloud SQL does for bad field values.
func (c *call) invalid(format string, args ...any) {
	c.fail(APIError{Code: http.StatusBadRequest, Reason: ReasonInvalid, Message: fmt.Sprintf(format, args...)})
}

func (c *call) instanceLink(name string) string {
	return fmt.Sprintf("%s/v1/projects/%s/instances/%s", c.base, c.rt.project, name)
}

// instanceFor returns the instance of the request, or answers 404
// instanceDoesNotExist.
func (c *call) instanceFor() (*instance, bool) {
	in, ok := c.f.instances[c.rt.instance]
	if !ok {
		c.fail(APIError{Code: http.StatusNotFound, Reason: ReasonInstanceDoesNotExist, Message: "The Cloud SQL instance does not exist."})
		return nil, false
	}
	return in, true
}

// idle answers 409 operationInProgress and returns false while an operation
// runs on the instance.
func (c *call) idle(in *instance) bool {
	if in.busy != nil {
		c.fail(APIError{Code: http.StatusConflict, Status: "ABORTED", Reason: ReasonOperationInProgress,
			Message: "Operation failed because another operation was already in progress. Try your request after the current operation is complete."})
		return false
	}
	return true
}

// running answers 400 and returns false unless the instance is RUNNABLE:
// databases and users live in the database server.
func (c *call) running(in *instance) bool {
	if in.db.State != StateRunnable {
		c.invalid("Invalid request: Invalid request since instance is not running.")
		return false
	}
	return true
}

// operation is a long-running operation.
type operation struct {
	op        sqladmin.Operation
	instance  *instance
	runningAt time.Time
	doneAt    time.Time
	failure   *sqladmin.OperationError
	apply     func(now time.Time) // the effect, once DONE
	revert    func()              // the undoing of what started, if it fails
}

// begin starts an operation of type typ on in and answers with it.
func (c *call) begin(in *instance, typ string, apply func(now time.Time), revert func()) {
	f := c.f
	name := newOperationName()
	op := &operation{
		op: sqladmin.Operation{
			Kind:          "sql#operation",
			Name:          name,
			OperationType: typ,
			Status:        OperationPending,
			InsertTime:    timestamp(c.now),
			TargetId:      in.db.Name,
			TargetLink:    c.instanceLink(in.db.Name),
			TargetProject: c.rt.project,
			SelfLink:      fmt.Sprintf("%s/v1/projects/%s/operations/%s", c.base, c.rt.project, name),
			User:          f.cfg.user,
		},
		instance:  in,
		runningAt: c.now.Add(f.cfg.delay / 4),
		doneAt:    c.now.Add(f.cfg.delay),
		apply:     apply,
		revert:    revert,
	}
	if len(f.failOps) > 0 {
		op.failure, f.failOps = f.failOps[0], f.failOps[1:]
	}
	in.busy = op
	f.ops[name] = op
	f.open = append(f.open, op)
	c.reply(op.op)
}

// tick advances the operations whose time has come.
func (f *Fake) tick() {
	if f.cfg.manual {
		return
	}
	now := f.cfg.now()
	for _, op := range slices.Clone(f.open) {
		switch {
		case !now.Before(op.doneAt):
			f.finish(op, now)
		case !now.Before(op.runningAt) && op.op.Status == OperationPending:
			f.start(op, now)
		}
	}
}

func (f *Fake) start(op *operation, now time.Time) {
	op.op.Status = OperationRunning
	op.op.StartTime = timestamp(now)
}

// finish makes an operation DONE, applying its effect or recording its
// failure, and frees its instance.
func (f *Fake) finish(op *operation, now time.Time) {
	if op.op.Status == OperationPending {
		f.start(op, now)
	}
	op.op.Status = OperationDone
	op.op.EndTime = timestamp(now)
	f.open = slices.DeleteFunc(f.open, func(o *operation) bool { return o == op })
	if op.instance.busy == op {
		op.instance.busy = nil
	}
	if op.failure != nil {
		op.op.Error = &sqladmin.OperationErrors{Kind: "sql#operationErrors", Errors: []*sqladmin.OperationError{op.failure}}
		if op.revert != nil {
			op.revert()
		}
		return
	}
	if op.apply != nil {
		op.apply(now)
	}
}

func (c *call) getOperation() {
	op, ok := c.f.ops[c.rt.child]
	if !ok || op.op.TargetProject != c.rt.project {
		c.fail(APIError{Code: http.StatusNotFound, Reason: ReasonOperationDoesNotExist, Message: "The Cloud SQL operation does not exist."})
		return
	}
	c.reply(op.op)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is Google's JSON error shape.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Errors  []errorItem `json:"errors,omitempty"`
	Status  string      `json:"status,omitempty"`
}

type errorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

// writeError answers with e in Google's error shape.
func writeError(w http.ResponseWriter, e APIError) {
	if e.Status == "" {
		e.Status = statusOf(e.Code)
	}
	d := errorDetail{Code: e.Code, Message: e.Message, Status: e.Status}
	if e.Reason != "" {
		d.Errors = []errorItem{{Message: e.Message, Domain: "global", Reason: e.Reason}}
	}
	writeJSON(w, e.Code, errorBody{Error: d})
}

// statusOf is the canonical status of an HTTP status code.
func statusOf(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusPreconditionFailed:
		return "FAILED_PRECONDITION"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "UNKNOWN"
}

// timestamp formats a time as Cloud SQL does: RFC 3339 in UTC, with
// milliseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newOperationName returns a name shaped like Cloud SQL's.
func newOperationName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newEtag returns a new entity tag.
func newEtag() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// copyOf returns a deep copy of v through its JSON form.
func copyOf[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}

// Server is a fake running on loopback behind its own token endpoint.
type Server struct {
	*Fake
	// Endpoint is the API's base URL, for a ProviderConfig's endpoint.
	Endpoint string
	// ProjectID is the project the fake serves.
	ProjectID string
	// Auth is the token endpoint that issues the tokens the API accepts.
	Auth *googleauth.Server

	srv *httptest.Server
}

// Start starts a fake of the Cloud SQL Admin API for one project (see
// WithProjectID) and its OAuth token endpoint on loopback. Only requests
// with a token that endpoint issued are served; others get 401.
func Start(opts ...Option) (*Server, error) {
	cfg := config{projectID: DefaultProjectID}
	for _, o := range opts {
		o(&cfg)
	}
	auth, err := googleauth.Start("stratus@" + cfg.projectID + ".iam.gserviceaccount.com")
	if err != nil {
		return nil, err
	}
	f := New(append(opts, withUser(auth.Email))...)
	srv := httptest.NewServer(auth.Require(f))
	return &Server{Fake: f, Endpoint: srv.URL, ProjectID: cfg.projectID, Auth: auth, srv: srv}, nil
}

// ServiceAccountJSON returns a service-account key for the fake's project
// whose tokens the fake accepts, as a Secret's credentials.json holds it.
func (s *Server) ServiceAccountJSON() []byte { return s.Auth.ServiceAccountJSON(s.ProjectID) }

// Close stops the API and its token endpoint.
func (s *Server) Close() {
	s.srv.Close()
	s.Auth.Close()
}
