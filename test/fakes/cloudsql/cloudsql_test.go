package cloudsql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/stratus-operator/stratus/test/fakes/googleauth"
)

const cloudPlatform = "https://www.googleapis.com/auth/cloud-platform"

// start starts a fake whose operations advance only when the test says so,
// unless opts say otherwise.
func start(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := Start(append([]Option{WithManualOperations()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// client is the real Cloud SQL Admin client, authenticated with key.
func client(t *testing.T, s *Server, key []byte) *sqladmin.Service {
	t.Helper()
	svc, err := sqladmin.NewService(context.Background(),
		option.WithAuthCredentialsJSON(option.ServiceAccount, key),
		option.WithScopes(cloudPlatform),
		option.WithEndpoint(s.Endpoint+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// token returns an access token the fake accepts.
func token(t *testing.T, s *Server) string {
	t.Helper()
	creds, err := google.CredentialsFromJSON(t.Context(), s.ServiceAccountJSON(), cloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// raw sends a request as is and returns the status and the decoded body.
func raw(t *testing.T, s *Server, tok, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.Endpoint+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: the answer is not JSON: %q", method, path, b)
	}
	return resp.StatusCode, out
}

// googleError is Google's error JSON, as decoded by raw.
func googleError(code int, status, reason, message string) map[string]any {
	e := map[string]any{"code": float64(code), "message": message, "status": status}
	if reason != "" {
		e["errors"] = []any{map[string]any{"message": message, "domain": "global", "reason": reason}}
	}
	return map[string]any{"error": e}
}

// postgres returns an instance to insert.
func postgres(name string) *sqladmin.DatabaseInstance {
	return &sqladmin.DatabaseInstance{
		Name:            name,
		DatabaseVersion: "POSTGRES_16",
		Region:          "europe-west1",
		Settings: &sqladmin.Settings{
			Tier:    "db-custom-1-3840",
			Edition: EditionEnterprise,
		},
	}
}

// runnable inserts an instance and finishes its creation.
func runnable(t *testing.T, s *Server, svc *sqladmin.Service, in *sqladmin.DatabaseInstance) {
	t.Helper()
	if _, err := svc.Instances.Insert(s.ProjectID, in).Do(); err != nil {
		t.Fatalf("insert instance %q: %v", in.Name, err)
	}
	s.Settle()
}

func apiError(t *testing.T, err error) *googleapi.Error {
	t.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("got %v, want a googleapi.Error", err)
	}
	return gerr
}

func reasonOf(err *googleapi.Error) string {
	if len(err.Errors) == 0 {
		return ""
	}
	return err.Errors[0].Reason
}

func TestOperationLifecycle(t *testing.T) {
	s := start(t)
	svc := client(t, s, s.ServiceAccountJSON())

	op, err := svc.Instances.Insert(s.ProjectID, postgres("lifecycle")).Do()
	if err != nil {
		t.Fatal(err)
	}
	type opView struct{ Kind, Status, OperationType, TargetId, TargetProject, User string }
	view := func(op *sqladmin.Operation) opView {
		return opView{op.Kind, op.Status, op.OperationType, op.TargetId, op.TargetProject, op.User}
	}
	want := opView{"sql#operation", OperationPending, OperationCreate, "lifecycle", s.ProjectID, s.Auth.Email}
	if diff := cmp.Diff(want, view(op)); diff != "" {
		t.Errorf("instances.insert: operation -want, +got:\n%s", diff)
	}
	if op.Name == "" || !strings.HasSuffix(op.SelfLink, "/v1/projects/"+s.ProjectID+"/operations/"+op.Name) ||
		!strings.HasSuffix(op.TargetLink, "/v1/projects/"+s.ProjectID+"/instances/lifecycle") || op.InsertTime == "" {
		t.Errorf("instances.insert: operation name %q, selfLink %q, targetLink %q, insertTime %q", op.Name, op.SelfLink, op.TargetLink, op.InsertTime)
	}

	type step struct {
		OpStatus string
		State    string
		IPs      int
	}
	observe := func() step {
		t.Helper()
		got, err := svc.Operations.Get(s.ProjectID, op.Name).Do()
		if err != nil {
			t.Fatalf("operations.get: %v", err)
		}
		in, err := svc.Instances.Get(s.ProjectID, "lifecycle").Do()
		if err != nil {
			t.Fatalf("instances.get: %v", err)
		}
		return step{got.Status, in.State, len(in.IpAddresses)}
	}
	if diff := cmp.Diff(step{OperationPending, StatePendingCreate, 0}, observe()); diff != "" {
		t.Errorf("after insert: -want, +got:\n%s", diff)
	}
	_, err = svc.Databases.Get(s.ProjectID, "lifecycle", "postgres").Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusBadRequest || !strings.Contains(gerr.Message, "instance is not running") {
		t.Errorf("databases.get while PENDING_CREATE: %v, want 400 instance is not running", err)
	}
	s.Advance()
	if diff := cmp.Diff(step{OperationRunning, StatePendingCreate, 0}, observe()); diff != "" {
		t.Errorf("after one step: -want, +got:\n%s", diff)
	}
	s.Advance()
	if diff := cmp.Diff(step{OperationDone, StateRunnable, 1}, observe()); diff != "" {
		t.Errorf("after two steps: -want, +got:\n%s", diff)
	}

	done, _ := svc.Operations.Get(s.ProjectID, op.Name).Do()
	if done.StartTime == "" || done.EndTime == "" || done.Error != nil {
		t.Errorf("done operation: startTime %q, endTime %q, error %v", done.StartTime, done.EndTime, done.Error)
	}
	in, _ := svc.Instances.Get(s.ProjectID, "lifecycle").Do()
	if ip := in.IpAddresses[0]; ip.Type != "PRIMARY" || !strings.HasPrefix(ip.IpAddress, "203.0.113.") {
		t.Errorf("ipAddresses[0] = %+v, want a PRIMARY address", ip)
	}
	if in.ConnectionName != s.ProjectID+":europe-west1:lifecycle" || in.Kind != "sql#instance" || in.Settings.SettingsVersion != 1 {
		t.Errorf("instance: connectionName %q, kind %q, settingsVersion %d", in.ConnectionName, in.Kind, in.Settings.SettingsVersion)
	}
	if _, err := svc.Databases.Get(s.ProjectID, "lifecycle", "postgres").Do(); err != nil {
		t.Errorf("the default database postgres: %v", err)
	}
	users, err := svc.Users.List(s.ProjectID, "lifecycle").Do()
	if err != nil || len(users.Items) != 1 || users.Items[0].Name != "postgres" {
		t.Errorf("users.list of a new PostgreSQL instance: %+v, %v; want the postgres user", users, err)
	}
}

func TestOperationsAdvanceWithTime(t *testing.T) {
	s, err := Start(WithOperationDelay(40 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := client(t, s, s.ServiceAccountJSON())
	op, err := svc.Instances.Insert(s.ProjectID, postgres("timed")).Do()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		in, err := svc.Instances.Get(s.ProjectID, "timed").Do()
		if err != nil {
			t.Fatal(err)
		}
		if in.State == StateRunnable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the instance is still %s", in.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	got, _ := svc.Operations.Get(s.ProjectID, op.Name).Do()
	if got.Status != OperationDone {
		t.Errorf("operation status %s once the instance is RUNNABLE, want DONE", got.Status)
	}
}

func TestErrorShapes(t *testing.T) {
	s := start(t)
	svc := client(t, s, s.ServiceAccountJSON())
	tok := token(t, s)
	base := "/v1/projects/" + s.ProjectID

	runnable(t, s, svc, postgres("existing"))
	protected := postgres("protected")
	protected.Settings.DeletionProtectionEnabled = true
	runnable(t, s, svc, protected)
	if _, err := svc.Instances.Insert(s.ProjectID, postgres("creating")).Do(); err != nil {
		t.Fatal(err)
	}

	inProgress := "Operation failed because another operation was already in progress. Try your request after the current operation is complete."
	tests := []struct {
		reason     string
		method     string
		path       string
		body       string
		wantStatus int
		want       map[string]any
	}{
		{
			reason:     "Inserting an instance whose name is taken is 409 instanceAlreadyExists.",
			method:     http.MethodPost,
			path:       base + "/instances",
			body:       `{"name":"existing","databaseVersion":"POSTGRES_16","settings":{"tier":"db-custom-1-3840","edition":"ENTERPRISE"}}`,
			wantStatus: http.StatusConflict,
			want:       googleError(409, "ALREADY_EXISTS", ReasonInstanceAlreadyExists, "The Cloud SQL instance already exists."),
		},
		{
			reason:     "Getting an instance that does not exist is 404 instanceDoesNotExist.",
			method:     http.MethodGet,
			path:       base + "/instances/missing",
			wantStatus: http.StatusNotFound,
			want:       googleError(404, "NOT_FOUND", ReasonInstanceDoesNotExist, "The Cloud SQL instance does not exist."),
		},
		{
			reason:     "Patching an instance while it is being created is 409 operationInProgress.",
			method:     http.MethodPatch,
			path:       base + "/instances/creating",
			body:       `{"settings":{"tier":"db-custom-2-7680"}}`,
			wantStatus: http.StatusConflict,
			want:       googleError(409, "ABORTED", ReasonOperationInProgress, inProgress),
		},
		{
			reason:     "Creating a database while the instance is being created is 409 operationInProgress.",
			method:     http.MethodPost,
			path:       base + "/instances/creating/databases",
			body:       `{"name":"app"}`,
			wantStatus: http.StatusConflict,
			want:       googleError(409, "ABORTED", ReasonOperationInProgress, inProgress),
		},
		{
			reason:     "Deleting a protected instance is 400.",
			method:     http.MethodDelete,
			path:       base + "/instances/protected",
			wantStatus: http.StatusBadRequest,
			want: googleError(400, "INVALID_ARGUMENT", ReasonInvalid,
				"The instance is protected from deletion. Disable deletion protection on the instance, then try again."),
		},
		{
			reason:     "PostgreSQL 16 defaults to Enterprise Plus, which refuses custom tiers.",
			method:     http.MethodPost,
			path:       base + "/instances",
			body:       `{"name":"plus","databaseVersion":"POSTGRES_16","settings":{"tier":"db-custom-1-3840"}}`,
			wantStatus: http.StatusBadRequest,
			want: googleError(400, "INVALID_ARGUMENT", ReasonInvalid,
				"Invalid request: Invalid Tier (db-custom-1-3840) for (ENTERPRISE_PLUS) Edition. Use a predefined Tier like db-perf-optimized-N-* instead."),
		},
		{
			reason:     "An unknown tier is 400 invalid.",
			method:     http.MethodPost,
			path:       base + "/instances",
			body:       `{"name":"badtier","databaseVersion":"POSTGRES_15","settings":{"tier":"db-huge"}}`,
			wantStatus: http.StatusBadRequest,
			want:       googleError(400, "INVALID_ARGUMENT", ReasonInvalid, "Invalid request: Invalid Tier (db-huge) for (ENTERPRISE) Edition."),
		},
		{
			reason:     "An instance name with an underscore is 400 invalid.",
			method:     http.MethodPost,
			path:       base + "/instances",
			body:       `{"name":"bad_name","databaseVersion":"POSTGRES_15","settings":{"tier":"db-custom-1-3840"}}`,
			wantStatus: http.StatusBadRequest,
			want:       googleError(400, "INVALID_ARGUMENT", ReasonInvalid, "Invalid request: instance name (bad_name)."),
		},
		{
			reason:     "Turning off the public IP without a private network is 400 invalid.",
			method:     http.MethodPatch,
			path:       base + "/instances/existing",
			body:       `{"settings":{"ipConfiguration":{"ipv4Enabled":false}}}`,
			wantStatus: http.StatusBadRequest,
			want: googleError(400, "INVALID_ARGUMENT", ReasonInvalid,
				"Invalid request: At least one of Public IP or Private IP or PSC connectivity must be enabled."),
		},
		{
			reason:     "Another project's instances are not the caller's to see: 403 notAuthorized.",
			method:     http.MethodGet,
			path:       "/v1/projects/someone-else/instances/existing",
			wantStatus: http.StatusForbidden,
			want:       googleError(403, "PERMISSION_DENIED", ReasonNotAuthorized, "The client is not authorized to make this request."),
		},
		{
			reason:     "An unknown operation is 404.",
			method:     http.MethodGet,
			path:       base + "/operations/nope",
			wantStatus: http.StatusNotFound,
			want:       googleError(404, "NOT_FOUND", ReasonOperationDoesNotExist, "The Cloud SQL operation does not exist."),
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			status, got := raw(t, s, tok, tt.method, tt.path, tt.body)
			if status != tt.wantStatus {
				t.Errorf("%s\n%s %s: status %d, want %d", tt.reason, tt.method, tt.path, status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s\n%s %s: -want, +got:\n%s", tt.reason, tt.method, tt.path, diff)
			}
		})
	}

	t.Run("The Go client reads the reason and message.", func(t *testing.T) {
		_, err := svc.Instances.Get(s.ProjectID, "missing").Do()
		gerr := apiError(t, err)
		if gerr.Code != http.StatusNotFound || reasonOf(gerr) != ReasonInstanceDoesNotExist {
			t.Errorf("instances.get: %v, want 404 %s", err, ReasonInstanceDoesNotExist)
		}
		if want := "googleapi: Error 404: The Cloud SQL instance does not exist., instanceDoesNotExist"; gerr.Error() != want {
			t.Errorf("error text %q, want %q", gerr.Error(), want)
		}
	})
	t.Run("A body that is not JSON is 400.", func(t *testing.T) {
		status, got := raw(t, s, tok, http.MethodPost, base+"/instances", "{")
		e, _ := got["error"].(map[string]any)
		if status != http.StatusBadRequest || e["status"] != "INVALID_ARGUMENT" {
			t.Errorf("status %d, body %v; want 400 INVALID_ARGUMENT", status, got)
		}
	})
}

func TestAuthentication(t *testing.T) {
	s := start(t)
	status, got := raw(t, s, "", http.MethodGet, "/v1/projects/"+s.ProjectID+"/instances/any", "")
	want := map[string]any{"error": map[string]any{
		"code":    float64(401),
		"message": "Request had invalid authentication credentials. Expected OAuth 2 access token.",
		"status":  "UNAUTHENTICATED",
	}}
	if status != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", status)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("no token: -want, +got:\n%s", diff)
	}

	other, err := googleauth.Start("intruder@elsewhere.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = client(t, s, other.ServiceAccountJSON(s.ProjectID)).Instances.Get(s.ProjectID, "any").Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusUnauthorized {
		t.Errorf("a token from another endpoint: %v, want 401", err)
	}
	if n := s.Calls(MethodInstancesGet); n != 0 {
		t.Errorf("unauthenticated requests reached the API %d times", n)
	}
}

func TestInjectedErrors(t *testing.T) {
	s := start(t)
	svc := client(t, s, s.ServiceAccountJSON())
	runnable(t, s, svc, postgres("throttled"))
	s.ResetCalls()

	s.ThrottleNext(2)
	for i := range 2 {
		_, err := svc.Instances.Get(s.ProjectID, "throttled").Do()
		gerr := apiError(t, err)
		if gerr.Code != http.StatusTooManyRequests || reasonOf(gerr) != ReasonRateLimitExceeded || !strings.Contains(gerr.Body, `"RESOURCE_EXHAUSTED"`) {
			t.Errorf("call %d: %v, want 429 rateLimitExceeded RESOURCE_EXHAUSTED", i+1, err)
		}
	}
	if _, err := svc.Instances.Get(s.ProjectID, "throttled").Do(); err != nil {
		t.Errorf("the third call: %v, want success", err)
	}

	s.FailNext(1, APIError{Code: http.StatusServiceUnavailable, Reason: "backendError", Message: "The service is currently unavailable."})
	_, err := svc.Users.List(s.ProjectID, "throttled").Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusServiceUnavailable || !strings.Contains(gerr.Body, `"UNAVAILABLE"`) {
		t.Errorf("injected 503: %v", err)
	}
	want := map[string]int{MethodInstancesGet: 3, MethodUsersList: 1}
	if diff := cmp.Diff(want, s.CallCounts()); diff != "" {
		t.Errorf("call counts -want, +got:\n%s", diff)
	}
}

func TestInsertDefaults(t *testing.T) {
	s := start(t)
	svc := client(t, s, s.ServiceAccountJSON())
	minimal := &sqladmin.DatabaseInstance{Name: "minimal", DatabaseVersion: "POSTGRES_15", Settings: &sqladmin.Settings{Tier: "db-g1-small"}}
	runnable(t, s, svc, minimal)
	private := postgres("private")
	private.Settings.IpConfiguration = &sqladmin.IpConfiguration{Ipv4Enabled: false, PrivateNetwork: "projects/p/global/networks/default", ForceSendFields: []string{"Ipv4Enabled"}}
	runnable(t, s, svc, private)

	type view struct {
		Region, Edition, Availability string
		DiskGB                        int64
		IPv4, Backups, AutoResize     bool
		IPTypes                       []string
	}
	get := func(name string) view {
		in, err := svc.Instances.Get(s.ProjectID, name).Do()
		if err != nil {
			t.Fatal(err)
		}
		st := in.Settings
		v := view{in.Region, st.Edition, st.AvailabilityType, st.DataDiskSizeGb, st.IpConfiguration.Ipv4Enabled,
			st.BackupConfiguration.Enabled, st.StorageAutoResize != nil && *st.StorageAutoResize, nil}
		for _, ip := range in.IpAddresses {
			v.IPTypes = append(v.IPTypes, ip.Type)
		}
		return v
	}
	tests := []struct {
		reason string
		name   string
		want   view
	}{
		{"Cloud SQL's defaults fill in what was not sent.", "minimal", view{DefaultRegion, EditionEnterprise, "ZONAL", 10, true, false, true, []string{"PRIMARY"}}},
		{"ipv4Enabled sent as false (ForceSendFields) turns the public IP off.", "private", view{"europe-west1", EditionEnterprise, "ZONAL", 10, false, false, true, []string{"PRIVATE"}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, get(tt.name)); diff != "" {
			t.Errorf("%s\ninstances.get(%s): -want, +got:\n%s", tt.reason, tt.name, diff)
		}
	}
}

func TestPatch(t *testing.T) {
	s := start(t)
	svc := client(t, s, s.ServiceAccountJSON())
	in := postgres("patched")
	in.DatabaseVersion = "POSTGRES_15"
	in.Settings.DeletionProtectionEnabled = true
	in.Settings.DataDiskSizeGb = 20
	in.Settings.BackupConfiguration = &sqladmin.BackupConfiguration{Enabled: true, BackupRetentionSettings: &sqladmin.BackupRetentionSettings{RetainedBackups: 5}}
	runnable(t, s, svc, in)

	type view struct {
		State, Tier, Version string
		Protected, Backups   bool
		Retained, Disk, Ver  int64
	}
	get := func() view {
		t.Helper()
		in, err := svc.Instances.Get(s.ProjectID, "patched").Do()
		if err != nil {
			t.Fatal(err)
		}
		st := in.Settings
		return view{in.State, st.Tier, in.DatabaseVersion, st.DeletionProtectionEnabled, st.BackupConfiguration.Enabled,
			st.BackupConfiguration.BackupRetentionSettings.RetainedBackups, st.DataDiskSizeGb, st.SettingsVersion}
	}
	patch := func(p *sqladmin.DatabaseInstance) (*sqladmin.Operation, error) {
		return svc.Instances.Patch(s.ProjectID, "patched", p).Do()
	}

	op, err := patch(&sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
		DeletionProtectionEnabled: false, ForceSendFields: []string{"DeletionProtectionEnabled"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if op.OperationType != OperationUpdate {
		t.Errorf("patch operation type %s, want UPDATE", op.OperationType)
	}
	before := view{StateRunnable, "db-custom-1-3840", "POSTGRES_15", true, true, 5, 20, 1}
	during := before
	during.State = StateMaintenance
	if diff := cmp.Diff(during, get()); diff != "" {
		t.Errorf("while the patch applies, the old settings show and the instance is in maintenance: -want, +got:\n%s", diff)
	}
	s.Settle()
	after := view{StateRunnable, "db-custom-1-3840", "POSTGRES_15", false, true, 5, 20, 2}
	if diff := cmp.Diff(after, get()); diff != "" {
		t.Errorf("a field sent as false is applied, the fields not sent are kept: -want, +got:\n%s", diff)
	}

	if _, err := patch(&sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{DeletionProtectionEnabled: false, Tier: "db-custom-2-7680"}}); err != nil {
		t.Fatal(err)
	}
	s.Settle()
	after = view{StateRunnable, "db-custom-2-7680", "POSTGRES_15", false, true, 5, 20, 3}
	if diff := cmp.Diff(after, get()); diff != "" {
		t.Errorf("a tier change: -want, +got:\n%s", diff)
	}

	bad := []struct {
		reason string
		patch  *sqladmin.DatabaseInstance
		want   string
	}{
		{"The disk cannot shrink.", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{DataDiskSizeGb: 15}}, "cannot be decreased"},
		{"The version cannot go down.", &sqladmin.DatabaseInstance{DatabaseVersion: "POSTGRES_14"}, "cannot be downgraded"},
		{"The engine cannot change.", &sqladmin.DatabaseInstance{DatabaseVersion: "MYSQL_8_0"}, "engine cannot be changed"},
		{"The region cannot change.", &sqladmin.DatabaseInstance{Region: "us-east1"}, "region"},
		{"A tier of another edition is refused.", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{Tier: "db-perf-optimized-N-2"}}, "Invalid Tier"},
	}
	for _, tt := range bad {
		_, err := patch(tt.patch)
		if gerr := apiError(t, err); gerr.Code != http.StatusBadRequest || !strings.Contains(gerr.Message, tt.want) {
			t.Errorf("%s\npatch: %v, want 400 containing %q", tt.reason, err, tt.want)
		}
	}

	op, err = patch(&sqladmin.DatabaseInstance{DatabaseVersion: "POSTGRES_16"})
	if err != nil {
		t.Fatal(err)
	}
	if op.OperationType != OperationMajorVersionUpgrade {
		t.Errorf("a version change: operation type %s, want %s", op.OperationType, OperationMajorVersionUpgrade)
	}
	s.Settle()
	if got := get(); got.Version != "POSTGRES_16" {
		t.Errorf("after a major version upgrade: %s", got.Version)
	}
}

func TestDatabasesAndUsers(t *testing.T) {
	s := start(t)
	svc := client(t, s, s.ServiceAccountJSON())
	runnable(t, s, svc, postgres("dbs"))
	const project, inst = DefaultProjectID, "dbs"

	op, err := svc.Databases.Insert(project, inst, &sqladmin.Database{Name: "app"}).Do()
	if err != nil || op.OperationType != OperationCreateDatabase || op.TargetId != inst {
		t.Fatalf("databases.insert: %+v, %v", op, err)
	}
	_, err = svc.Users.Insert(project, inst, &sqladmin.User{Name: "app_owner", Password: "s3cret-Passw0rd"}).Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusConflict || reasonOf(gerr) != ReasonOperationInProgress {
		t.Errorf("users.insert while a database is created: %v, want 409 operationInProgress", err)
	}
	_, err = svc.Databases.Get(project, inst, "app").Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusNotFound {
		t.Errorf("databases.get before the operation is done: %v, want 404", err)
	}
	s.Settle()
	d, err := svc.Databases.Get(project, inst, "app").Do()
	if err != nil || d.Kind != "sql#database" || d.Charset != "UTF8" || d.Instance != inst {
		t.Errorf("databases.get: %+v, %v", d, err)
	}
	_, err = svc.Databases.Insert(project, inst, &sqladmin.Database{Name: "app"}).Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusConflict || reasonOf(gerr) != ReasonAlreadyExists {
		t.Errorf("databases.insert of an existing database: %v, want 409 alreadyExists", err)
	}
	if _, err := svc.Databases.Patch(project, inst, "app", &sqladmin.Database{Collation: "C"}).Do(); err != nil {
		t.Fatal(err)
	}
	s.Settle()
	if d, _ := svc.Databases.Get(project, inst, "app").Do(); d.Collation != "C" || d.Charset != "UTF8" {
		t.Errorf("databases.patch: charset %q collation %q, want UTF8 C", d.Charset, d.Collation)
	}

	const password = "s3cret-Passw0rd"
	op, err = svc.Users.Insert(project, inst, &sqladmin.User{Name: "app_owner", Password: password}).Do()
	if err != nil || op.OperationType != OperationCreateUser {
		t.Fatalf("users.insert: %+v, %v", op, err)
	}
	s.Settle()
	status, body := raw(t, s, token(t, s), http.MethodGet, "/v1/projects/"+project+"/instances/"+inst+"/users", "")
	if b, _ := json.Marshal(body); status != http.StatusOK || bytes.Contains(b, []byte(password)) || !bytes.Contains(b, []byte(`"app_owner"`)) {
		t.Errorf("users.list: status %d, %s; want the user without its password", status, b)
	}
	if got, ok := s.UserPassword(inst, "app_owner"); !ok || got != password {
		t.Errorf("UserPassword = %q, %v; want the password set", got, ok)
	}
	if _, err := svc.Users.Update(project, inst, &sqladmin.User{Password: "another-Passw0rd"}).Name("app_owner").Do(); err != nil {
		t.Fatal(err)
	}
	s.Settle()
	if got, _ := s.UserPassword(inst, "app_owner"); got != "another-Passw0rd" {
		t.Errorf("after users.update the password is %q", got)
	}
	if _, err := svc.Users.Delete(project, inst).Name("app_owner").Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Databases.Delete(project, inst, "app").Do(); err == nil {
		t.Errorf("databases.delete while a user is deleted: want 409")
	}
	s.Settle()
	if _, ok := s.UserPassword(inst, "app_owner"); ok {
		t.Errorf("the user is still there after users.delete")
	}
	_, err = svc.Users.Delete(project, inst).Name("app_owner").Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusNotFound {
		t.Errorf("users.delete of a missing user: %v, want 404", err)
	}
	if _, err := svc.Databases.Delete(project, inst, "app").Do(); err != nil {
		t.Fatal(err)
	}
	s.Settle()
	_, err = svc.Databases.Get(project, inst, "app").Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusNotFound {
		t.Errorf("databases.get after databases.delete: %v, want 404", err)
	}
}

func TestDeleteInstance(t *testing.T) {
	s := start(t)
	svc := client(t, s, s.ServiceAccountJSON())
	runnable(t, s, svc, postgres("doomed"))

	op, err := svc.Instances.Delete(s.ProjectID, "doomed").Do()
	if err != nil || op.OperationType != OperationDelete {
		t.Fatalf("instances.delete: %+v, %v", op, err)
	}
	if in, _ := svc.Instances.Get(s.ProjectID, "doomed").Do(); in.State != StatePendingDelete {
		t.Errorf("while deleted the instance is %s, want %s", in.State, StatePendingDelete)
	}
	_, err = svc.Instances.Delete(s.ProjectID, "doomed").Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusConflict || reasonOf(gerr) != ReasonOperationInProgress {
		t.Errorf("a second delete: %v, want 409 operationInProgress", err)
	}
	s.Settle()
	_, err = svc.Instances.Get(s.ProjectID, "doomed").Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusNotFound {
		t.Errorf("instances.get after the delete: %v, want 404", err)
	}
	if got, _ := svc.Operations.Get(s.ProjectID, op.Name).Do(); got.Status != OperationDone {
		t.Errorf("the delete operation is %s after the instance is gone", got.Status)
	}
	_, err = svc.Instances.Insert(s.ProjectID, postgres("doomed")).Do()
	if gerr := apiError(t, err); gerr.Code != http.StatusConflict || reasonOf(gerr) != ReasonInstanceAlreadyExists || !strings.Contains(gerr.Message, "one week") {
		t.Errorf("reusing the name of a deleted instance: %v, want 409 instanceAlreadyExists", err)
	}
}

func TestFailedOperation(t *testing.T) {
	s := start(t)
	svc := client(t, s, s.ServiceAccountJSON())
	s.FailNextOperation("INTERNAL_ERROR", "An internal error has occurred.")
	op, err := svc.Instances.Insert(s.ProjectID, postgres("broken")).Do()
	if err != nil {
		t.Fatal(err)
	}
	s.Settle()
	got, err := svc.Operations.Get(s.ProjectID, op.Name).Do()
	if err != nil {
		t.Fatal(err)
	}
	want := &sqladmin.OperationErrors{Kind: "sql#operationErrors", Errors: []*sqladmin.OperationError{{
		Kind: "sql#operationError", Code: "INTERNAL_ERROR", Message: "An internal error has occurred.",
	}}}
	if got.Status != OperationDone {
		t.Errorf("failed operation status %s, want DONE", got.Status)
	}
	if diff := cmp.Diff(want, got.Error); diff != "" {
		t.Errorf("operation error -want, +got:\n%s", diff)
	}
	if in, _ := svc.Instances.Get(s.ProjectID, "broken").Do(); in.State != StateFailed {
		t.Errorf("after a failed create the instance is %s, want FAILED", in.State)
	}
}

func TestUserLabels(t *testing.T) {
	s := start(t)
	tok := token(t, s)
	base := "/v1/projects/" + s.ProjectID + "/instances"
	insertBody := func(name, labels string) string {
		return `{"name":"` + name + `","databaseVersion":"POSTGRES_16","region":"europe-west1",` +
			`"settings":{"tier":"db-custom-1-3840","edition":"ENTERPRISE"` + labels + `}}`
	}
	// userLabels returns settings.userLabels of an instance as the wire has
	// it, nil when there are none.
	userLabels := func(t *testing.T, name string) any {
		t.Helper()
		status, doc := raw(t, s, tok, http.MethodGet, base+"/"+name, "")
		if status != http.StatusOK {
			t.Fatalf("instances.get %s: %d %v", name, status, doc)
		}
		settings, _ := doc["settings"].(map[string]any)
		return settings["userLabels"]
	}
	tests := []struct {
		reason string
		name   string
		insert string // the settings' userLabels member, with its leading comma
		patch  string // a patch body, none when empty
		want   any    // settings.userLabels afterwards
		// wantStatus is the status of the insert, or of the patch when
		// there is one; 0 means 200.
		wantStatus int
	}{
		{
			reason: "An insert stores the labels and get returns them as sent.",
			name:   "insert-labels",
			insert: `,"userLabels":{"stratus-owner":"0123456789abcdef0123456789abcdef","stratus-owner-uid":"6f1c2d3e-aaaa","team":""}`,
			want:   map[string]any{"stratus-owner": "0123456789abcdef0123456789abcdef", "stratus-owner-uid": "6f1c2d3e-aaaa", "team": ""},
		},
		{
			reason: "An instance without labels has no userLabels member.",
			name:   "no-labels",
		},
		{
			reason: "A label inserted as null is no label.",
			name:   "insert-null",
			insert: `,"userLabels":{"a":"1","b":null}`,
			want:   map[string]any{"a": "1"},
		},
		{
			reason: "A patch merges userLabels label by label: those not sent stay.",
			name:   "patch-merges",
			insert: `,"userLabels":{"a":"1","b":"2"}`,
			patch:  `{"settings":{"userLabels":{"b":"20","c":"3"}}}`,
			want:   map[string]any{"a": "1", "b": "20", "c": "3"},
		},
		{
			reason: "A label patched to null is removed, the others stay.",
			name:   "patch-null-removes",
			insert: `,"userLabels":{"a":"1","b":"2"}`,
			patch:  `{"settings":{"userLabels":{"a":null}}}`,
			want:   map[string]any{"b": "2"},
		},
		{
			reason: "Labels patched onto an instance without any are stored; a null among them is no label.",
			name:   "patch-onto-none",
			patch:  `{"settings":{"userLabels":{"a":"1","b":null}}}`,
			want:   map[string]any{"a": "1"},
		},
		{
			reason: "A patch that does not mention userLabels keeps them.",
			name:   "patch-other-field",
			insert: `,"userLabels":{"a":"1"}`,
			patch:  `{"settings":{"tier":"db-custom-2-7680"}}`,
			want:   map[string]any{"a": "1"},
		},
		{
			reason:     "Uppercase keys are refused.",
			name:       "upper-key",
			insert:     `,"userLabels":{"Team":"x"}`,
			wantStatus: http.StatusBadRequest,
		},
		{
			reason:     "Keys start with a lowercase letter.",
			name:       "digit-key",
			insert:     `,"userLabels":{"1team":"x"}`,
			wantStatus: http.StatusBadRequest,
		},
		{
			reason:     "Values hold no dots.",
			name:       "dotted-value",
			insert:     `,"userLabels":{"team":"a.b"}`,
			wantStatus: http.StatusBadRequest,
		},
		{
			reason:     "Values are at most 63 characters.",
			name:       "long-value",
			insert:     `,"userLabels":{"team":"` + strings.Repeat("x", 64) + `"}`,
			wantStatus: http.StatusBadRequest,
		},
		{
			reason:     "A patch with a bad label is refused and changes nothing.",
			name:       "patch-refused",
			insert:     `,"userLabels":{"a":"1"}`,
			patch:      `{"settings":{"userLabels":{"B":"2"}}}`,
			want:       map[string]any{"a": "1"},
			wantStatus: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			status, doc := raw(t, s, tok, http.MethodPost, base, insertBody(tt.name, tt.insert))
			if tt.patch == "" && tt.wantStatus != 0 {
				if status != tt.wantStatus {
					t.Fatalf("%s\ninsert: %d %v, want %d", tt.reason, status, doc, tt.wantStatus)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("%s\ninsert: %d %v", tt.reason, status, doc)
			}
			s.Settle()
			if tt.patch != "" {
				status, doc := raw(t, s, tok, http.MethodPatch, base+"/"+tt.name, tt.patch)
				want := tt.wantStatus
				if want == 0 {
					want = http.StatusOK
				}
				if status != want {
					t.Fatalf("%s\npatch: %d %v, want %d", tt.reason, status, doc, want)
				}
				s.Settle()
			}
			if diff := cmp.Diff(tt.want, userLabels(t, tt.name)); diff != "" {
				t.Errorf("%s\nsettings.userLabels: -want, +got:\n%s", tt.reason, diff)
			}
		})
	}

	t.Run("The real client's labels and nulls round-trip.", func(t *testing.T) {
		svc := client(t, s, s.ServiceAccountJSON())
		in := postgres("real-client")
		in.Settings.UserLabels = map[string]string{"a": "1", "b": "2"}
		runnable(t, s, svc, in)
		if _, err := svc.Instances.Patch(s.ProjectID, "real-client", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
			UserLabels: map[string]string{"c": "3"},
			NullFields: []string{"UserLabels.a"},
		}}).Do(); err != nil {
			t.Fatal(err)
		}
		s.Settle()
		got, err := svc.Instances.Get(s.ProjectID, "real-client").Do()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"b": "2", "c": "3"}, got.Settings.UserLabels); diff != "" {
			t.Errorf("userLabels after a patch that sets c and nulls a: -want, +got:\n%s", diff)
		}
	})
}
