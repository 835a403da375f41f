package rds_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	fakerds "github.com/stratus-operator/stratus/test/fakes/rds"
)

const (
	region   = "us-east-1"
	password = "Sup3rSecretPassw0rd"
)

// start starts a fake for one test.
func start(t *testing.T, opts ...fakerds.Option) *fakerds.Server {
	t.Helper()
	srv, err := fakerds.Start(opts...)
	if err != nil {
		t.Fatalf("Start(): %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// manual starts a fake whose transitions happen only when the test moves
// its clock by a minute per state (or calls Settle).
func manual(t *testing.T, opts ...fakerds.Option) *fakerds.Server {
	t.Helper()
	return start(t, append([]fakerds.Option{fakerds.WithTransitionDelay(time.Minute)}, opts...)...)
}

// client returns the SDK's RDS client for the fake, without retries.
func client(srv *fakerds.Server, accessKey, secretKey, region string) *rds.Client {
	return rds.New(rds.Options{
		Region:           region,
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RetryMaxAttempts: 1,
	})
}

func defaultClient(srv *fakerds.Server) *rds.Client {
	return client(srv, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, region)
}

// createInput is a valid CreateDBInstance request.
func createInput(id string) *rds.CreateDBInstanceInput {
	return &rds.CreateDBInstanceInput{
		DBInstanceIdentifier:  aws.String(id),
		DBInstanceClass:       aws.String("db.t4g.small"),
		Engine:                aws.String("postgres"),
		EngineVersion:         aws.String("16"),
		AllocatedStorage:      aws.Int32(20),
		BackupRetentionPeriod: aws.Int32(7),
		MasterUsername:        aws.String("app_admin"),
		MasterUserPassword:    aws.String(password),
		DBName:                aws.String("app"),
		StorageEncrypted:      aws.Bool(true),
	}
}

// createAvailable creates an instance and finishes its creation.
func createAvailable(t *testing.T, srv *fakerds.Server, c *rds.Client, id string) {
	t.Helper()
	if _, err := c.CreateDBInstance(t.Context(), createInput(id)); err != nil {
		t.Fatalf("CreateDBInstance(%q): %v", id, err)
	}
	srv.Settle()
}

// describe returns an instance as the SDK reads it.
func describe(t *testing.T, c *rds.Client, id string) types.DBInstance {
	t.Helper()
	out, err := c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeDBInstances(%q): %v", id, err)
	}
	if len(out.DBInstances) != 1 {
		t.Fatalf("DescribeDBInstances(%q): %d instances, want 1", id, len(out.DBInstances))
	}
	return out.DBInstances[0]
}

// apiErr is what an error answer says, as the SDK parsed it.
type apiErr struct {
	Code    string
	Status  int
	Message string
}

func apiErrorOf(err error) apiErr {
	if err == nil {
		return apiErr{}
	}
	var got apiErr
	var ae smithy.APIError
	if errors.As(err, &ae) {
		got.Code, got.Message = ae.ErrorCode(), ae.ErrorMessage()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		got.Status = re.HTTPStatusCode()
	}
	return got
}

// rawCall sends a Query API request, signed by sign unless nil, and returns
// the status, the request id header and the body.
func rawCall(t *testing.T, srv *fakerds.Server, body string, sign func(*http.Request, []byte)) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if sign != nil {
		sign(req, []byte(body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", srv.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-Requestid"), data
}

// signer signs a request as the SDK does, with the given credentials, scope
// and time.
func signer(t *testing.T, accessKey, secretKey, sessionToken, service, region string, at time.Time) func(*http.Request, []byte) {
	return func(req *http.Request, body []byte) {
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, SessionToken: sessionToken}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
			t.Fatalf("SignHTTP(): %v", err)
		}
	}
}

// errorDoc is an RDS error document.
type errorDoc struct {
	XMLName xml.Name `xml:"http://rds.amazonaws.com/doc/2014-10-31/ ErrorResponse"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func TestSignatureV4(t *testing.T) {
	const describeAll = "Action=DescribeDBInstances&Version=2014-10-31"
	now := time.Now()
	type want struct {
		Status int
		Type   string
		Code   string
	}
	cases := map[string]struct {
		reason string
		sign   func(t *testing.T) func(*http.Request, []byte)
		body   string // sent instead of the signed body, when set
		want   want
	}{
		"Valid": {
			reason: "A request signed with a known key and its secret is served.",
			sign: func(t *testing.T) func(*http.Request, []byte) {
				return signer(t, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "", "rds", region, now)
			},
			want: want{Status: http.StatusOK},
		},
		"ConfiguredKey": {
			reason: "A key added with WithCredentials is accepted too.",
			sign: func(t *testing.T) func(*http.Request, []byte) {
				return signer(t, "AKIAOTHERKEY", "other-secret", "", "rds", "eu-west-1", now)
			},
			want: want{Status: http.StatusOK},
		},
		"Unsigned": {
			reason: "A request without an Authorization header is refused with 403 MissingAuthenticationToken.",
			sign:   func(*testing.T) func(*http.Request, []byte) { return nil },
			want:   want{Status: http.StatusForbidden, Type: "Sender", Code: "MissingAuthenticationToken"},
		},
		"UnknownAccessKey": {
			reason: "An access key the service does not know is 403 InvalidClientTokenId.",
			sign: func(t *testing.T) func(*http.Request, []byte) {
				return signer(t, "AKIAUNKNOWN", fakerds.DefaultSecretAccessKey, "", "rds", region, now)
			},
			want: want{Status: http.StatusForbidden, Type: "Sender", Code: "InvalidClientTokenId"},
		},
		"WrongSecret": {
			reason: "A known key signed with another secret is 403 SignatureDoesNotMatch.",
			sign: func(t *testing.T) func(*http.Request, []byte) {
				return signer(t, fakerds.DefaultAccessKeyID, "not-the-secret", "", "rds", region, now)
			},
			want: want{Status: http.StatusForbidden, Type: "Sender", Code: "SignatureDoesNotMatch"},
		},
		"BodyChanged": {
			reason: "A body changed after signing no longer matches the signature.",
			sign: func(t *testing.T) func(*http.Request, []byte) {
				return signer(t, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "", "rds", region, now)
			},
			body: "Action=DescribeDBInstances&Version=2014-10-31&MaxRecords=20",
			want: want{Status: http.StatusForbidden, Type: "Sender", Code: "SignatureDoesNotMatch"},
		},
		"WrongService": {
			reason: "A signature scoped to another service is refused.",
			sign: func(t *testing.T) func(*http.Request, []byte) {
				return signer(t, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "", "ec2", region, now)
			},
			want: want{Status: http.StatusForbidden, Type: "Sender", Code: "SignatureDoesNotMatch"},
		},
		"Expired": {
			reason: "A signature more than 15 minutes old is refused.",
			sign: func(t *testing.T) func(*http.Request, []byte) {
				return signer(t, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "", "rds", region, now.Add(-20*time.Minute))
			},
			want: want{Status: http.StatusForbidden, Type: "Sender", Code: "SignatureDoesNotMatch"},
		},
		"SessionTokenNotIssued": {
			reason: "A session token the service did not issue is 403 InvalidClientTokenId.",
			sign: func(t *testing.T) func(*http.Request, []byte) {
				return signer(t, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "token", "rds", region, now)
			},
			want: want{Status: http.StatusForbidden, Type: "Sender", Code: "InvalidClientTokenId"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, fakerds.WithCredentials("AKIAOTHERKEY", "other-secret"))
			body := describeAll
			sign := tc.sign(t)
			wrapped := sign
			if tc.body != "" && sign != nil {
				wrapped = func(req *http.Request, b []byte) {
					sign(req, b)
					req.Body = io.NopCloser(strings.NewReader(tc.body))
					req.ContentLength = int64(len(tc.body))
				}
			}
			status, reqID, data := rawCall(t, srv, body, wrapped)
			got := want{Status: status}
			if status != http.StatusOK {
				var doc errorDoc
				if err := xml.Unmarshal(data, &doc); err != nil {
					t.Fatalf("error document %q: %v", data, err)
				}
				got.Type, got.Code = doc.Error.Type, doc.Error.Code
				if doc.RequestID == "" || doc.RequestID != reqID {
					t.Errorf("RequestId %q, header %q: want the same, non-empty", doc.RequestID, reqID)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nPOST DescribeDBInstances: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.want.Status != http.StatusOK && srv.Calls("DescribeDBInstances") != 0 {
				t.Errorf("%s\nthe refused call was counted as served", tc.reason)
			}
		})
	}
}

func TestSDKCredentials(t *testing.T) {
	cases := map[string]struct {
		reason    string
		accessKey string
		secretKey string
		want      apiErr
	}{
		"Valid":      {reason: "The SDK's signature is accepted.", accessKey: fakerds.DefaultAccessKeyID, secretKey: fakerds.DefaultSecretAccessKey},
		"UnknownKey": {reason: "The SDK parses 403 InvalidClientTokenId.", accessKey: "AKIANOPE", secretKey: "x", want: apiErr{Code: "InvalidClientTokenId", Status: 403, Message: "The security token included in the request is invalid."}},
		"WrongSecret": {reason: "The SDK parses 403 SignatureDoesNotMatch.", accessKey: fakerds.DefaultAccessKeyID, secretKey: "wrong",
			want: apiErr{Code: "SignatureDoesNotMatch", Status: 403, Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := start(t)
			_, err := client(srv, tc.accessKey, tc.secretKey, region).DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{})
			if diff := cmp.Diff(tc.want, apiErrorOf(err)); diff != "" {
				t.Errorf("%s\nDescribeDBInstances(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestWireFormat(t *testing.T) {
	srv := manual(t)
	sign := signer(t, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "", "rds", region, time.Now())
	form := url.Values{
		"Action":               {"CreateDBInstance"},
		"Version":              {"2014-10-31"},
		"DBInstanceIdentifier": {"wire"},
		"DBInstanceClass":      {"db.t4g.small"},
		"Engine":               {"postgres"},
		"AllocatedStorage":     {"20"},
		"MasterUsername":       {"app_admin"},
		"MasterUserPassword":   {password},
		"Tags.Tag.1.Key":       {"team"},
		"Tags.Tag.1.Value":     {"data"},
	}
	status, reqID, data := rawCall(t, srv, form.Encode(), sign)
	if status != http.StatusOK {
		t.Fatalf("CreateDBInstance: status %d: %s", status, data)
	}
	var created struct {
		XMLName xml.Name `xml:"http://rds.amazonaws.com/doc/2014-10-31/ CreateDBInstanceResponse"`
		Result  struct {
			DBInstance struct {
				DBInstanceIdentifier string
				DBInstanceStatus     string
				Endpoint             *struct{ Address string }
				PendingMasterUser    string                        `xml:"PendingModifiedValues>MasterUserPassword"`
				Tags                 []struct{ Key, Value string } `xml:"TagList>Tag"`
				MultiAZ              string
			}
		} `xml:"CreateDBInstanceResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(data, &created); err != nil {
		t.Fatalf("CreateDBInstance answer %q: %v", data, err)
	}
	type got struct {
		ID, Status, PendingPassword, MultiAZ string
		HasEndpoint, RequestIDMatches        bool
		Tags                                 []struct{ Key, Value string }
		EchoesPassword                       bool
	}
	want := got{ID: "wire", Status: "creating", PendingPassword: "****", MultiAZ: "false", RequestIDMatches: true,
		Tags: []struct{ Key, Value string }{{"team", "data"}}}
	d := created.Result.DBInstance
	g := got{ID: d.DBInstanceIdentifier, Status: d.DBInstanceStatus, PendingPassword: d.PendingMasterUser, MultiAZ: d.MultiAZ,
		HasEndpoint: d.Endpoint != nil, RequestIDMatches: created.RequestID != "" && created.RequestID == reqID, Tags: d.Tags,
		EchoesPassword: strings.Contains(string(data), password)}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("CreateDBInstance answer: -want, +got:\n%s\n%s", diff, data)
	}

	errorCases := map[string]struct {
		reason string
		body   string
		status int
		code   string
		msg    string
	}{
		"NotFound": {
			reason: "Describing a missing instance is 404 DBInstanceNotFound.",
			body:   "Action=DescribeDBInstances&Version=2014-10-31&DBInstanceIdentifier=nope",
			status: 404, code: "DBInstanceNotFound", msg: "DBInstance nope not found.",
		},
		"UnknownAction": {
			reason: "An action RDS does not have is 400 InvalidAction.",
			body:   "Action=ListBuckets&Version=2014-10-31",
			status: 400, code: "InvalidAction", msg: "The action ListBuckets is not valid for this web service.",
		},
		"WrongVersion": {
			reason: "Another API version is 400 InvalidAction.",
			body:   "Action=DescribeDBInstances&Version=2013-01-10",
			status: 400, code: "InvalidAction", msg: "Could not find operation DescribeDBInstances for version 2013-01-10",
		},
		"MissingParameter": {
			reason: "A required parameter that is missing is 400 MissingParameter.",
			body:   "Action=CreateDBInstance&Version=2014-10-31&DBInstanceIdentifier=x&Engine=postgres",
			status: 400, code: "MissingParameter", msg: "The request must contain the parameter DBInstanceClass",
		},
	}
	for name, tc := range errorCases {
		t.Run(name, func(t *testing.T) {
			status, reqID, data := rawCall(t, srv, tc.body, sign)
			var doc errorDoc
			if err := xml.Unmarshal(data, &doc); err != nil {
				t.Fatalf("error document %q: %v", data, err)
			}
			type got struct {
				Status          int
				Type, Code, Msg string
				RequestID       bool
			}
			if diff := cmp.Diff(got{tc.status, "Sender", tc.code, tc.msg, true},
				got{status, doc.Error.Type, doc.Error.Code, doc.Error.Message, doc.RequestID != "" && doc.RequestID == reqID}); diff != "" {
				t.Errorf("%s\nanswer: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	type step struct {
		Advance     time.Duration // moves the clock before describing
		Status      string
		HasEndpoint bool
	}
	cases := map[string]struct {
		reason    string
		opts      []fakerds.Option
		retention int32
		steps     []step
	}{
		"WithBackups": {
			reason:    "An instance with backups is creating (no endpoint yet), then backing-up, then available.",
			opts:      []fakerds.Option{fakerds.WithTransitionDelay(time.Minute)},
			retention: 7,
			steps: []step{
				{0, "creating", false},
				{30 * time.Second, "creating", false},
				{30 * time.Second, "backing-up", true},
				{time.Minute, "available", true},
				{time.Hour, "available", true},
			},
		},
		"WithoutBackups": {
			reason:    "An instance without backups skips backing-up.",
			opts:      []fakerds.Option{fakerds.WithTransitionDelay(time.Minute)},
			retention: 0,
			steps:     []step{{0, "creating", false}, {time.Minute, "available", true}},
		},
		"SeveralStatesAtOnce": {
			reason:    "Moving the clock past several transitions makes them all.",
			opts:      []fakerds.Option{fakerds.WithTransitionDelay(time.Minute)},
			retention: 7,
			steps:     []step{{0, "creating", false}, {3 * time.Minute, "available", true}},
		},
		"ByDescribeCount": {
			reason:    "With WithDescribesPerTransition(2) each state is shown by two answers, whatever the clock says.",
			opts:      []fakerds.Option{fakerds.WithTransitionDelay(0), fakerds.WithDescribesPerTransition(2)},
			retention: 7,
			steps: []step{
				{0, "creating", false}, {0, "creating", false},
				{0, "backing-up", true}, {0, "backing-up", true},
				{time.Hour, "available", true},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, tc.opts...)
			c := defaultClient(srv)
			in := createInput("life")
			in.BackupRetentionPeriod = aws.Int32(tc.retention)
			if _, err := c.CreateDBInstance(t.Context(), in); err != nil {
				t.Fatalf("CreateDBInstance(): %v", err)
			}
			var got []step
			for _, s := range tc.steps {
				srv.Advance(s.Advance)
				d := describe(t, c, "life")
				got = append(got, step{s.Advance, aws.ToString(d.DBInstanceStatus), d.Endpoint != nil})
			}
			if diff := cmp.Diff(tc.steps, got); diff != "" {
				t.Errorf("%s\nDescribeDBInstances(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDefaultClock(t *testing.T) {
	srv := start(t)
	c := defaultClient(srv)
	if _, err := c.CreateDBInstance(t.Context(), createInput("clock")); err != nil {
		t.Fatalf("CreateDBInstance(): %v", err)
	}
	seen := []string{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s := aws.ToString(describe(t, c, "clock").DBInstanceStatus)
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
		if s == "available" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A slow machine may not see every state, but sees them in order, from
	// creating to available.
	order := map[string]int{"creating": 0, "backing-up": 1, "available": 2}
	inOrder := seen[0] == "creating" && seen[len(seen)-1] == "available"
	for i := 1; i < len(seen); i++ {
		inOrder = inOrder && order[seen[i-1]] < order[seen[i]]
	}
	if !inOrder {
		t.Errorf("with the default transition delay an instance goes from creating through backing-up to available within a second or so; saw %v", seen)
	}
}

func TestDescribeReadBack(t *testing.T) {
	srv := manual(t)
	c := defaultClient(srv)
	createAvailable(t, srv, c, "readback")
	if _, err := c.ModifyDBInstance(t.Context(), &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String("readback"), MultiAZ: aws.Bool(true), PubliclyAccessible: aws.Bool(true),
		DeletionProtection: aws.Bool(true), ApplyImmediately: aws.Bool(true),
	}); err != nil {
		t.Fatalf("ModifyDBInstance(): %v", err)
	}
	srv.Settle()
	d := describe(t, c, "readback")
	type readBack struct {
		ID, Class, Engine, Version, Status, User, DBName, Address, ARN string
		Port, Storage, Retention                                       int32
		MultiAZ, Public, Protection, Encrypted                         bool
	}
	want := readBack{
		ID: "readback", Class: "db.t4g.small", Engine: "postgres", Version: "16.9", Status: "available",
		User: "app_admin", DBName: "app", Port: 5432, Storage: 20, Retention: 7,
		MultiAZ: true, Public: true, Protection: true, Encrypted: true,
		ARN: "arn:aws:rds:us-east-1:123456789012:db:readback",
	}
	got := readBack{
		ID: aws.ToString(d.DBInstanceIdentifier), Class: aws.ToString(d.DBInstanceClass), Engine: aws.ToString(d.Engine),
		Version: aws.ToString(d.EngineVersion), Status: aws.ToString(d.DBInstanceStatus), User: aws.ToString(d.MasterUsername),
		DBName: aws.ToString(d.DBName), ARN: aws.ToString(d.DBInstanceArn),
		Storage: aws.ToInt32(d.AllocatedStorage), Retention: aws.ToInt32(d.BackupRetentionPeriod),
		MultiAZ: aws.ToBool(d.MultiAZ), Public: aws.ToBool(d.PubliclyAccessible), Protection: aws.ToBool(d.DeletionProtection),
		Encrypted: aws.ToBool(d.StorageEncrypted),
	}
	if d.Endpoint != nil {
		got.Address, got.Port = aws.ToString(d.Endpoint.Address), aws.ToInt32(d.Endpoint.Port)
	}
	if !strings.HasPrefix(got.Address, "readback.c") || !strings.HasSuffix(got.Address, ".us-east-1.rds.amazonaws.com") {
		t.Errorf("Endpoint.Address = %q, want readback.<hash>.us-east-1.rds.amazonaws.com", got.Address)
	}
	got.Address = ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeDBInstances(...) through the SDK: -want, +got:\n%s", diff)
	}
	if !srv.MasterPasswordIs(region, "readback", password) {
		t.Errorf("MasterPasswordIs(%q) = false, want true", password)
	}
}

func TestModify(t *testing.T) {
	type state struct {
		Status     string
		Class      string
		Pending    string
		Protection bool
		Public     bool
		PendingPW  bool
	}
	cases := map[string]struct {
		reason       string
		input        rds.ModifyDBInstanceInput
		maintenance  bool // run the maintenance window instead of settling
		wantAnswer   state
		wantSettled  state
		wantPassword string
	}{
		"ApplyImmediately": {
			reason:      "A class change applied immediately is pending while modifying, then applied.",
			input:       rds.ModifyDBInstanceInput{DBInstanceClass: aws.String("db.m6g.large"), ApplyImmediately: aws.Bool(true)},
			wantAnswer:  state{Status: "modifying", Class: "db.t4g.small", Pending: "db.m6g.large"},
			wantSettled: state{Status: "available", Class: "db.m6g.large"},
		},
		"MaintenanceWindow": {
			reason:      "A change not applied immediately stays pending, the instance available, until the maintenance window.",
			input:       rds.ModifyDBInstanceInput{DBInstanceClass: aws.String("db.m6g.large")},
			maintenance: true,
			wantAnswer:  state{Status: "available", Class: "db.t4g.small", Pending: "db.m6g.large"},
			wantSettled: state{Status: "available", Class: "db.m6g.large"},
		},
		"DeletionProtectionAtOnce": {
			reason:      "Deletion protection changes at once, without a modifying state.",
			input:       rds.ModifyDBInstanceInput{DeletionProtection: aws.Bool(true), ApplyImmediately: aws.Bool(true)},
			wantAnswer:  state{Status: "available", Class: "db.t4g.small", Protection: true},
			wantSettled: state{Status: "available", Class: "db.t4g.small", Protection: true},
		},
		"PubliclyAccessible": {
			reason:      "Public accessibility changes asynchronously, with a modifying state.",
			input:       rds.ModifyDBInstanceInput{PubliclyAccessible: aws.Bool(true)},
			wantAnswer:  state{Status: "modifying", Class: "db.t4g.small", Public: true},
			wantSettled: state{Status: "available", Class: "db.t4g.small", Public: true},
		},
		"Password": {
			reason:       "A new master password shows as pending, masked, and is never echoed.",
			input:        rds.ModifyDBInstanceInput{MasterUserPassword: aws.String("An0therPassword!")},
			wantAnswer:   state{Status: "modifying", Class: "db.t4g.small", PendingPW: true},
			wantSettled:  state{Status: "available", Class: "db.t4g.small"},
			wantPassword: "An0therPassword!",
		},
	}
	stateOf := func(d *types.DBInstance) state {
		s := state{Status: aws.ToString(d.DBInstanceStatus), Class: aws.ToString(d.DBInstanceClass),
			Protection: aws.ToBool(d.DeletionProtection), Public: aws.ToBool(d.PubliclyAccessible)}
		if p := d.PendingModifiedValues; p != nil {
			s.Pending = aws.ToString(p.DBInstanceClass)
			if pw := aws.ToString(p.MasterUserPassword); pw != "" {
				s.PendingPW = pw == "****"
			}
		}
		return s
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := manual(t)
			c := defaultClient(srv)
			createAvailable(t, srv, c, "mod")
			input := tc.input
			input.DBInstanceIdentifier = aws.String("mod")
			out, err := c.ModifyDBInstance(t.Context(), &input)
			if err != nil {
				t.Fatalf("ModifyDBInstance(): %v", err)
			}
			if diff := cmp.Diff(tc.wantAnswer, stateOf(out.DBInstance)); diff != "" {
				t.Errorf("%s\nModifyDBInstance(...): -want, +got:\n%s", tc.reason, diff)
			}
			d := describe(t, c, "mod")
			if diff := cmp.Diff(tc.wantAnswer, stateOf(&d)); diff != "" {
				t.Errorf("%s\nDescribeDBInstances(...) before the change is applied: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.maintenance {
				srv.Advance(time.Hour) // time alone does not apply it
				if d := describe(t, c, "mod"); aws.ToString(d.PendingModifiedValues.DBInstanceClass) == "" {
					t.Errorf("%s\nthe pending change was applied before the maintenance window", tc.reason)
				}
				srv.RunMaintenanceWindow()
			} else {
				srv.Advance(time.Minute)
			}
			d = describe(t, c, "mod")
			if diff := cmp.Diff(tc.wantSettled, stateOf(&d)); diff != "" {
				t.Errorf("%s\nDescribeDBInstances(...) after the change is applied: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.wantPassword != "" && !srv.MasterPasswordIs(region, "mod", tc.wantPassword) {
				t.Errorf("%s\nthe new password was not applied", tc.reason)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	const protected = "Cannot delete protected DB Instance, please disable deletion protection and try again."
	cases := map[string]struct {
		reason string
		opts   []fakerds.Option
		setup  func(t *testing.T, srv *fakerds.Server, c *rds.Client)
		call   func(ctx context.Context, c *rds.Client) error
		want   apiErr
	}{
		"AlreadyExists": {
			reason: "Creating an identifier that exists is DBInstanceAlreadyExists, whatever its case.",
			setup:  func(t *testing.T, srv *fakerds.Server, c *rds.Client) { createAvailable(t, srv, c, "dup") },
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.CreateDBInstance(ctx, createInput("DUP"))
				return err
			},
			want: apiErr{Code: "DBInstanceAlreadyExists", Status: 400, Message: "DB instance already exists"},
		},
		"BadClass": {
			reason: "An instance class RDS does not have is InvalidParameterValue.",
			call: func(ctx context.Context, c *rds.Client) error {
				in := createInput("badclass")
				in.DBInstanceClass = aws.String("db.huge")
				_, err := c.CreateDBInstance(ctx, in)
				return err
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "Invalid DB Instance class: db.huge"},
		},
		"StorageTooSmall": {
			reason: "Less than 20 GiB of gp3 storage is InvalidParameterValue.",
			call: func(ctx context.Context, c *rds.Client) error {
				in := createInput("small")
				in.AllocatedStorage = aws.Int32(10)
				_, err := c.CreateDBInstance(ctx, in)
				return err
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "Invalid storage size for engine name postgres and storage type gp3: 10"},
		},
		"StorageQuota": {
			reason: "Storage beyond the account's quota is StorageQuotaExceeded.",
			opts:   []fakerds.Option{fakerds.WithStorageQuotaGB(100)},
			call: func(ctx context.Context, c *rds.Client) error {
				in := createInput("big")
				in.AllocatedStorage = aws.Int32(200)
				_, err := c.CreateDBInstance(ctx, in)
				return err
			},
			want: apiErr{Code: "StorageQuotaExceeded", Status: 400, Message: "The request would result in the user exceeding the allowed amount of storage available across all DB instances."},
		},
		"BadIdentifier": {
			reason: "An identifier with two hyphens in a row is InvalidParameterValue.",
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.CreateDBInstance(ctx, createInput("a--b"))
				return err
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "The parameter DBInstanceIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."},
		},
		"UnknownVersion": {
			reason: "An engine version RDS does not offer is InvalidParameterCombination.",
			call: func(ctx context.Context, c *rds.Client) error {
				in := createInput("ver")
				in.EngineVersion = aws.String("9.6")
				_, err := c.CreateDBInstance(ctx, in)
				return err
			},
			want: apiErr{Code: "InvalidParameterCombination", Status: 400, Message: "Cannot find version 9.6 for postgres"},
		},
		"BadPassword": {
			reason: "A password with a character RDS refuses is InvalidParameterValue, and not echoed.",
			call: func(ctx context.Context, c *rds.Client) error {
				in := createInput("pw")
				in.MasterUserPassword = aws.String("has/slash-in-it")
				_, err := c.CreateDBInstance(ctx, in)
				return err
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: `The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '"', ' ' may be used.`},
		},
		"ModifyWhileCreating": {
			reason: "Modifying an instance that is not available is InvalidDBInstanceState.",
			setup: func(t *testing.T, _ *fakerds.Server, c *rds.Client) {
				if _, err := c.CreateDBInstance(t.Context(), createInput("busy")); err != nil {
					t.Fatal(err)
				}
			},
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("busy"), AllocatedStorage: aws.Int32(40), ApplyImmediately: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "InvalidDBInstanceState", Status: 400, Message: "Database instance is not in available state."},
		},
		"NoModifications": {
			reason: "A modification that changes nothing is InvalidParameterCombination.",
			setup:  func(t *testing.T, srv *fakerds.Server, c *rds.Client) { createAvailable(t, srv, c, "same") },
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("same"), DBInstanceClass: aws.String("db.t4g.small"), ApplyImmediately: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "InvalidParameterCombination", Status: 400, Message: "No modifications were requested"},
		},
		"MajorUpgradeWithoutFlag": {
			reason: "A major version upgrade needs AllowMajorVersionUpgrade.",
			setup:  func(t *testing.T, srv *fakerds.Server, c *rds.Client) { createAvailable(t, srv, c, "upgrade") },
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("upgrade"), EngineVersion: aws.String("17"), ApplyImmediately: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "InvalidParameterCombination", Status: 400, Message: "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version."},
		},
		"Downgrade": {
			reason: "RDS does not downgrade an engine.",
			setup:  func(t *testing.T, srv *fakerds.Server, c *rds.Client) { createAvailable(t, srv, c, "down") },
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("down"), EngineVersion: aws.String("15"), AllowMajorVersionUpgrade: aws.Bool(true), ApplyImmediately: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "InvalidParameterCombination", Status: 400, Message: "Cannot upgrade postgres from 16.9 to 15.13"},
		},
		"StorageDecrease": {
			reason: "Allocated storage can only grow.",
			setup:  func(t *testing.T, srv *fakerds.Server, c *rds.Client) { createAvailable(t, srv, c, "shrink") },
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("shrink"), AllocatedStorage: aws.Int32(15), ApplyImmediately: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "Invalid storage size for engine name postgres and storage type gp3: 15"},
		},
		"StorageIncreaseTooSmall": {
			reason: "Storage grows by at least 10 percent.",
			setup:  func(t *testing.T, srv *fakerds.Server, c *rds.Client) { createAvailable(t, srv, c, "grow") },
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("grow"), AllocatedStorage: aws.Int32(21), ApplyImmediately: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "Invalid storage size: the allocated storage must be increased by at least 10 percent, from 20 GiB to at least 22 GiB."},
		},
		"DeleteProtected": {
			reason: "Deleting an instance with deletion protection is InvalidParameterCombination.",
			setup: func(t *testing.T, srv *fakerds.Server, c *rds.Client) {
				in := createInput("protected")
				in.DeletionProtection = aws.Bool(true)
				if _, err := c.CreateDBInstance(t.Context(), in); err != nil {
					t.Fatal(err)
				}
				srv.Settle()
			},
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("protected"), SkipFinalSnapshot: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "InvalidParameterCombination", Status: 400, Message: protected},
		},
		"DeleteWhileDeleting": {
			reason: "Deleting an instance being deleted is InvalidDBInstanceState.",
			setup: func(t *testing.T, srv *fakerds.Server, c *rds.Client) {
				createAvailable(t, srv, c, "twice")
				if _, err := c.DeleteDBInstance(t.Context(), &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("twice"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			},
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("twice"), SkipFinalSnapshot: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "InvalidDBInstanceState", Status: 400, Message: "Instance twice is already being deleted."},
		},
		"FinalSnapshotWhileCreating": {
			reason: "A final snapshot of an instance still creating cannot be taken.",
			setup: func(t *testing.T, _ *fakerds.Server, c *rds.Client) {
				if _, err := c.CreateDBInstance(t.Context(), createInput("young")); err != nil {
					t.Fatal(err)
				}
			},
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("young"), FinalDBSnapshotIdentifier: aws.String("young-final")})
				return err
			},
			want: apiErr{Code: "InvalidDBInstanceState", Status: 400, Message: "Instance young is currently creating - a final snapshot cannot be taken."},
		},
		"FinalSnapshotRequired": {
			reason: "Without SkipFinalSnapshot a final snapshot identifier is required.",
			setup:  func(t *testing.T, srv *fakerds.Server, c *rds.Client) { createAvailable(t, srv, c, "nosnap") },
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("nosnap")})
				return err
			},
			want: apiErr{Code: "InvalidParameterCombination", Status: 400, Message: "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."},
		},
		"SnapshotExists": {
			reason: "A final snapshot identifier in use is DBSnapshotAlreadyExists.",
			setup: func(t *testing.T, srv *fakerds.Server, c *rds.Client) {
				createAvailable(t, srv, c, "first")
				createAvailable(t, srv, c, "second")
				if _, err := c.DeleteDBInstance(t.Context(), &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("first"), FinalDBSnapshotIdentifier: aws.String("final")}); err != nil {
					t.Fatal(err)
				}
			},
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("second"), FinalDBSnapshotIdentifier: aws.String("final")})
				return err
			},
			want: apiErr{Code: "DBSnapshotAlreadyExists", Status: 400, Message: "Cannot create the snapshot because a snapshot with the identifier final already exists."},
		},
		"NotFound": {
			reason: "Modifying a missing instance is 404 DBInstanceNotFound.",
			call: func(ctx context.Context, c *rds.Client) error {
				_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("ghost"), MultiAZ: aws.Bool(true)})
				return err
			},
			want: apiErr{Code: "DBInstanceNotFound", Status: 404, Message: "DBInstance ghost not found."},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := manual(t, tc.opts...)
			c := defaultClient(srv)
			if tc.setup != nil {
				tc.setup(t, srv, c)
			}
			err := tc.call(t.Context(), c)
			if diff := cmp.Diff(tc.want, apiErrorOf(err)); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
			if err != nil && strings.Contains(err.Error(), "has/slash-in-it") {
				t.Errorf("%s\nthe error echoes the password: %v", tc.reason, err)
			}
		})
	}
}

func TestNotFoundIsTyped(t *testing.T) {
	srv := manual(t)
	_, err := defaultClient(srv).DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("ghost")})
	var nf *types.DBInstanceNotFoundFault
	if !errors.As(err, &nf) {
		t.Fatalf("DescribeDBInstances(ghost): %v, want *types.DBInstanceNotFoundFault", err)
	}
}

func TestDelete(t *testing.T) {
	cases := map[string]struct {
		reason       string
		input        rds.DeleteDBInstanceInput
		settle       bool // let the instance become available first
		wantSnapshot []fakerds.Snapshot
	}{
		"FinalSnapshot": {
			reason:       "Deleting with a final snapshot keeps one, named as asked.",
			input:        rds.DeleteDBInstanceInput{FinalDBSnapshotIdentifier: aws.String("gone-final-1")},
			settle:       true,
			wantSnapshot: []fakerds.Snapshot{{Identifier: "gone-final-1", DBInstanceIdentifier: "gone", Region: region, Engine: "postgres", EngineVersion: "16.9", AllocatedStorage: 20}},
		},
		"SkipFinalSnapshot": {
			reason: "Deleting with SkipFinalSnapshot keeps nothing, and works while creating.",
			input:  rds.DeleteDBInstanceInput{SkipFinalSnapshot: aws.Bool(true)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := manual(t)
			c := defaultClient(srv)
			if _, err := c.CreateDBInstance(t.Context(), createInput("gone")); err != nil {
				t.Fatal(err)
			}
			if tc.settle {
				srv.Settle()
			}
			input := tc.input
			input.DBInstanceIdentifier = aws.String("gone")
			out, err := c.DeleteDBInstance(t.Context(), &input)
			if err != nil {
				t.Fatalf("%s\nDeleteDBInstance(): %v", tc.reason, err)
			}
			if got := aws.ToString(out.DBInstance.DBInstanceStatus); got != "deleting" {
				t.Errorf("%s\nDeleteDBInstance(): status %q, want deleting", tc.reason, got)
			}
			if got := aws.ToString(describe(t, c, "gone").DBInstanceStatus); got != "deleting" {
				t.Errorf("%s\nDescribeDBInstances(): status %q, want deleting", tc.reason, got)
			}
			srv.Advance(time.Minute)
			_, err = c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("gone")})
			if diff := cmp.Diff(apiErr{Code: "DBInstanceNotFound", Status: 404, Message: "DBInstance gone not found."}, apiErrorOf(err)); diff != "" {
				t.Errorf("%s\nDescribeDBInstances() once deleted: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantSnapshot, srv.Snapshots(), cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Created" }, cmp.Ignore())); diff != "" {
				t.Errorf("%s\nSnapshots(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestThrottleNext(t *testing.T) {
	srv := manual(t)
	c := defaultClient(srv)
	srv.ThrottleNext(2)
	var got []apiErr
	for range 3 {
		_, err := c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{})
		got = append(got, apiErrorOf(err))
	}
	throttled := apiErr{Code: "Throttling", Status: 400, Message: "Rate exceeded"}
	if diff := cmp.Diff([]apiErr{throttled, throttled, {}}, got); diff != "" {
		t.Errorf("the two calls after ThrottleNext(2) are throttled, the third served: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"DescribeDBInstances": 3}, srv.CallCounts()); diff != "" {
		t.Errorf("CallCounts() counts throttled calls: -want, +got:\n%s", diff)
	}
}

func TestSDKRetriesThrottling(t *testing.T) {
	srv := manual(t)
	c := rds.New(rds.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, ""),
	})
	srv.ThrottleNext(1)
	if _, err := c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{}); err != nil {
		t.Fatalf("DescribeDBInstances() with the SDK's retries: %v", err)
	}
	if got := srv.Calls("DescribeDBInstances"); got != 2 {
		t.Errorf("Calls(DescribeDBInstances) = %d, want 2: the SDK retries Throttling", got)
	}
}

func TestTags(t *testing.T) {
	srv := manual(t)
	c := defaultClient(srv)
	in := createInput("tagged")
	in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}
	out, err := c.CreateDBInstance(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	arn := out.DBInstance.DBInstanceArn
	if _, err := c.AddTagsToResource(t.Context(), &rds.AddTagsToResourceInput{ResourceName: arn, Tags: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("platform")},
		{Key: aws.String("env"), Value: aws.String("test")},
	}}); err != nil {
		t.Fatalf("AddTagsToResource(): %v", err)
	}
	list, err := c.ListTagsForResource(t.Context(), &rds.ListTagsForResourceInput{ResourceName: arn})
	if err != nil {
		t.Fatalf("ListTagsForResource(): %v", err)
	}
	got := map[string]string{}
	for _, tag := range list.TagList {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if diff := cmp.Diff(map[string]string{"team": "platform", "env": "test"}, got); diff != "" {
		t.Errorf("ListTagsForResource(): -want, +got:\n%s", diff)
	}

	_, err = client(srv, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "eu-west-1").ListTagsForResource(t.Context(), &rds.ListTagsForResourceInput{ResourceName: arn})
	if diff := cmp.Diff(apiErr{Code: "InvalidParameterValue", Status: 400, Message: "The specified resource name does not match an RDS resource in this region."}, apiErrorOf(err)); diff != "" {
		t.Errorf("ListTagsForResource() in another region: -want, +got:\n%s", diff)
	}
}

func TestTagsWireFormat(t *testing.T) {
	srv := manual(t)
	c := defaultClient(srv)
	out, err := c.CreateDBInstance(t.Context(), createInput("wiretags"))
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.DBInstance.DBInstanceArn)
	sign := signer(t, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "", "rds", region, time.Now())

	// AddTagsToResource answers a document without a result, as RDS does.
	add := url.Values{
		"Action": {"AddTagsToResource"}, "Version": {"2014-10-31"}, "ResourceName": {arn},
		"Tags.Tag.1.Key": {"stratus.dev/owner"}, "Tags.Tag.1.Value": {"0123456789abcdef0123456789abcdef"},
		"Tags.Tag.2.Key": {"stratus.dev/owner-uid"}, "Tags.Tag.2.Value": {""},
	}
	status, reqID, data := rawCall(t, srv, add.Encode(), sign)
	var added struct {
		XMLName   xml.Name  `xml:"http://rds.amazonaws.com/doc/2014-10-31/ AddTagsToResourceResponse"`
		Result    *struct{} `xml:"AddTagsToResourceResult"`
		RequestID string    `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(data, &added); err != nil {
		t.Fatalf("AddTagsToResource answer %q: %v", data, err)
	}
	type addGot struct {
		Status           int
		HasResult        bool
		RequestIDMatches bool
	}
	if diff := cmp.Diff(addGot{Status: 200, RequestIDMatches: true},
		addGot{status, added.Result != nil, added.RequestID != "" && added.RequestID == reqID}); diff != "" {
		t.Errorf("AddTagsToResource answer: -want, +got:\n%s\n%s", diff, data)
	}

	// ListTagsForResource answers the tags in a TagList, the empty value
	// included.
	list := url.Values{"Action": {"ListTagsForResource"}, "Version": {"2014-10-31"}, "ResourceName": {arn}}
	status, _, data = rawCall(t, srv, list.Encode(), sign)
	var listed struct {
		XMLName xml.Name                      `xml:"http://rds.amazonaws.com/doc/2014-10-31/ ListTagsForResourceResponse"`
		Tags    []struct{ Key, Value string } `xml:"ListTagsForResourceResult>TagList>Tag"`
	}
	if err := xml.Unmarshal(data, &listed); err != nil {
		t.Fatalf("ListTagsForResource answer %q: %v", data, err)
	}
	wantTags := []struct{ Key, Value string }{{"stratus.dev/owner", "0123456789abcdef0123456789abcdef"}, {"stratus.dev/owner-uid", ""}}
	if status != http.StatusOK {
		t.Errorf("ListTagsForResource: status %d, want 200", status)
	}
	if diff := cmp.Diff(wantTags, listed.Tags); diff != "" {
		t.Errorf("ListTagsForResource answer: -want, +got:\n%s\n%s", diff, data)
	}

	// DescribeDBInstances shows the same tags in the instance's TagList, as
	// the SDK reads it.
	got := map[string]string{}
	for _, tag := range describe(t, c, "wiretags").TagList {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if diff := cmp.Diff(map[string]string{"stratus.dev/owner": "0123456789abcdef0123456789abcdef", "stratus.dev/owner-uid": ""}, got); diff != "" {
		t.Errorf("DescribeDBInstances TagList: -want, +got:\n%s", diff)
	}
	if got := srv.Calls("AddTagsToResource"); got != 1 {
		t.Errorf("Calls(AddTagsToResource) = %d, want 1", got)
	}
}

func TestTagErrors(t *testing.T) {
	srv := manual(t)
	c := defaultClient(srv)
	out, err := c.CreateDBInstance(t.Context(), createInput("tagerr"))
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.DBInstance.DBInstanceArn)
	tag := []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}
	cases := map[string]struct {
		reason string
		call   func() apiErr
		want   apiErr
	}{
		"AddToMissingInstance": {
			reason: "Tagging an instance that does not exist is 404 DBInstanceNotFound.",
			call: func() apiErr {
				_, err := c.AddTagsToResource(t.Context(), &rds.AddTagsToResourceInput{
					ResourceName: aws.String("arn:aws:rds:us-east-1:" + fakerds.DefaultAccountID + ":db:nope"), Tags: tag})
				return apiErrorOf(err)
			},
			want: apiErr{Code: "DBInstanceNotFound", Status: 404, Message: "DBInstance nope not found."},
		},
		"ListOfMissingInstance": {
			reason: "Listing the tags of an instance that does not exist is 404 DBInstanceNotFound.",
			call: func() apiErr {
				_, err := c.ListTagsForResource(t.Context(), &rds.ListTagsForResourceInput{
					ResourceName: aws.String("arn:aws:rds:us-east-1:" + fakerds.DefaultAccountID + ":db:nope")})
				return apiErrorOf(err)
			},
			want: apiErr{Code: "DBInstanceNotFound", Status: 404, Message: "DBInstance nope not found."},
		},
		"OtherAccount": {
			reason: "An ARN of another account names no resource here.",
			call: func() apiErr {
				_, err := c.AddTagsToResource(t.Context(), &rds.AddTagsToResourceInput{
					ResourceName: aws.String("arn:aws:rds:us-east-1:210987654321:db:tagerr"), Tags: tag})
				return apiErrorOf(err)
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "The specified resource name does not match an RDS resource in this region."},
		},
		"NotAnARN": {
			reason: "A resource name that is not an ARN is refused.",
			call: func() apiErr {
				_, err := c.AddTagsToResource(t.Context(), &rds.AddTagsToResourceInput{ResourceName: aws.String("tagerr"), Tags: tag})
				return apiErrorOf(err)
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "The specified resource name does not match an RDS resource in this region."},
		},
		"ReservedPrefix": {
			reason: "Tag keys starting with aws: are AWS's.",
			call: func() apiErr {
				_, err := c.AddTagsToResource(t.Context(), &rds.AddTagsToResourceInput{ResourceName: aws.String(arn),
					Tags: []types.Tag{{Key: aws.String("aws:owner"), Value: aws.String("x")}}})
				return apiErrorOf(err)
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "Tag keys must not start with 'aws:'"},
		},
		"EmptyKey": {
			reason: "A tag needs a key.",
			call: func() apiErr {
				_, err := c.AddTagsToResource(t.Context(), &rds.AddTagsToResourceInput{ResourceName: aws.String(arn),
					Tags: []types.Tag{{Key: aws.String(""), Value: aws.String("x")}}})
				return apiErrorOf(err)
			},
			want: apiErr{Code: "InvalidParameterValue", Status: 400, Message: "Tag keys must not be empty"},
		},
		"NoTags": {
			reason: "AddTagsToResource needs tags.",
			call: func() apiErr {
				// The SDK refuses to send it: this is the wire.
				sign := signer(t, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "", "rds", region, time.Now())
				body := url.Values{"Action": {"AddTagsToResource"}, "Version": {"2014-10-31"}, "ResourceName": {arn}}.Encode()
				status, _, data := rawCall(t, srv, body, sign)
				var doc errorDoc
				if err := xml.Unmarshal(data, &doc); err != nil {
					t.Fatalf("error document %q: %v", data, err)
				}
				return apiErr{Code: doc.Error.Code, Status: status, Message: doc.Error.Message}
			},
			want: apiErr{Code: "MissingParameter", Status: 400, Message: "The request must contain the parameter Tags"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.call()); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
	// None of the refused calls tagged the instance.
	if tags := describe(t, c, "tagerr").TagList; len(tags) != 0 {
		t.Errorf("the instance has tags %v after refused calls; want none", tags)
	}
}

func TestRegions(t *testing.T) {
	srv := manual(t)
	east, west := defaultClient(srv), client(srv, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, "eu-west-1")
	createAvailable(t, srv, east, "regional")
	_, err := west.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("regional")})
	if got := apiErrorOf(err).Code; got != "DBInstanceNotFound" {
		t.Errorf("DescribeDBInstances() in another region: code %q, want DBInstanceNotFound", got)
	}
	if _, err := west.CreateDBInstance(t.Context(), createInput("regional")); err != nil {
		t.Errorf("CreateDBInstance() of the same identifier in another region: %v", err)
	}
	if diff := cmp.Diff([]string{"regional"}, srv.Instances("eu-west-1")); diff != "" {
		t.Errorf("Instances(eu-west-1): -want, +got:\n%s", diff)
	}
}

func TestDescribePages(t *testing.T) {
	srv := manual(t)
	c := defaultClient(srv)
	for i := range 25 {
		if _, err := c.CreateDBInstance(t.Context(), createInput("db"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	var got int
	p := rds.NewDescribeDBInstancesPaginator(c, &rds.DescribeDBInstancesInput{MaxRecords: aws.Int32(20)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("NextPage(): %v", err)
		}
		got += len(out.DBInstances)
		pages++
	}
	if got != 25 || pages != 2 {
		t.Errorf("paginated DescribeDBInstances: %d instances in %d pages, want 25 in 2", got, pages)
	}
}
