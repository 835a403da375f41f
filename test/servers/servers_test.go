package servers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

func TestToolsDir(t *testing.T) {
	existing := t.TempDir()
	file := filepath.Join(existing, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     string
		want    string
		wantErr string
	}{
		{name: "env points at a directory", env: existing, want: existing},
		{name: "env points at nothing", env: filepath.Join(existing, "missing"), wantErr: "test/tools/install.sh"},
		{name: "env points at a file", env: file, wantErr: "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(ToolsDirEnv, tt.env)
			got, err := ToolsDir()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ToolsDir() = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ToolsDir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	t.Run("default is bin/tools under the repository root", func(t *testing.T) {
		t.Setenv(ToolsDirEnv, "")
		root, err := RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			t.Fatalf("RepoRoot() = %s without go.mod: %v", root, err)
		}
		got, err := ToolsDir()
		want := filepath.Join(root, "bin", "tools")
		if err == nil && got != want {
			t.Fatalf("ToolsDir() = %q; want %q", got, want)
		}
		if err != nil && !strings.Contains(err.Error(), "install.sh") {
			t.Fatalf("ToolsDir() error %v does not say how to build the tools", err)
		}
	})
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int // sign only
	}{
		{"15", "9.6", 1},
		{"9.6", "15", -1},
		{"16", "16", 0},
		{"9.6", "9.5", 1},
		{"17", "16", 1},
	}
	for _, tt := range tests {
		got := compareVersions(tt.a, tt.b)
		if (got > 0) != (tt.want > 0) || (got < 0) != (tt.want < 0) {
			t.Errorf("compareVersions(%q, %q) = %d; want sign of %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100 {
		b.WriteString(strings.Repeat("x", i) + "\n")
	}
	b.WriteString("the last line\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tail := logTail(path)
	if lines := strings.Count(tail, "\n") + 1; lines != 30 {
		t.Errorf("logTail returned %d lines; want 30", lines)
	}
	if !strings.HasSuffix(tail, "the last line") {
		t.Errorf("logTail does not end with the last line: %q", tail[len(tail)-40:])
	}
	if got := logTail(filepath.Join(t.TempDir(), "missing")); !strings.Contains(got, "cannot read log") {
		t.Errorf("logTail of a missing file = %q", got)
	}
}

func s3Client(srv *S3Server, endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
}

func putAndGet(ctx context.Context, t *testing.T, c *s3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
	}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	got := getObject(ctx, t, c, bucket, key)
	if got != body {
		t.Fatalf("GetObject = %q; want %q", got, body)
	}
}

func getObject(ctx context.Context, t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read object: %v", err)
	}
	return string(b)
}

func TestStartS3(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	srv, err := StartS3(ctx, S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("versitygw and shim ready in %v: endpoint %s, backend %s", time.Since(start), srv.Endpoint, srv.BackendEndpoint)
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(srv.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary data dir %s still there after Stop: %v", srv.DataDir, err)
		}
	}()
	if srv.Region != "us-east-1" || srv.AccessKey == "" || srv.SecretKey == "" {
		t.Fatalf("server fields: region %q, access key %q, secret set %v", srv.Region, srv.AccessKey, srv.SecretKey != "")
	}

	for _, tc := range []struct{ name, endpoint string }{
		{"through the shim", srv.Endpoint},
		{"direct to versitygw", srv.BackendEndpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s3Client(srv, tc.endpoint)
			bucket := "servers-" + strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", "-"), "through-the-", "")
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
				t.Fatalf("CreateBucket: %v", err)
			}
			putAndGet(ctx, t, c, bucket, "dir/hello.txt", "hello, "+tc.name)
		})
	}
}

func TestStartS3KeepsDataDir(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()

	srv, err := StartS3(ctx, S3Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := s3Client(srv, srv.Endpoint)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kept")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	putAndGet(ctx, t, c, "kept", "k", "still here")
	access := srv.AccessKey
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	srv, err = StartS3(ctx, S3Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if srv.AccessKey != access {
		t.Errorf("access key after restart = %q; want the saved %q", srv.AccessKey, access)
	}
	if got := getObject(ctx, t, s3Client(srv, srv.Endpoint), "kept", "k"); got != "still here" {
		t.Errorf("object after restart = %q", got)
	}
	log, err := os.ReadFile(srv.LogFile)
	if err != nil || !bytes.Contains(log, []byte("versitygw")) {
		t.Errorf("log %s: %v, %d bytes", srv.LogFile, err, len(log))
	}
}

func TestStartS3MissingBinary(t *testing.T) {
	t.Setenv(ToolsDirEnv, t.TempDir())
	_, err := StartS3(context.Background(), S3Options{})
	if err == nil || !strings.Contains(err.Error(), "install.sh") || !strings.Contains(err.Error(), "versitygw") {
		t.Fatalf("StartS3 without versitygw: %v; want an error naming versitygw and install.sh", err)
	}
}

func TestStartPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	srv, err := StartPostgres(ctx, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("postgres ready in %v on %s:%d", time.Since(start), srv.Host, srv.Port)
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(srv.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary data dir %s still there after Stop: %v", srv.DataDir, err)
		}
	}()

	conn, err := pgx.Connect(ctx, srv.DSN())
	if err != nil {
		t.Fatalf("connect to %s: %v", srv.DSN(), err)
	}
	defer conn.Close(ctx)
	var version, user string
	if err := conn.QueryRow(ctx, "SELECT version(), current_user").Scan(&version, &user); err != nil {
		t.Fatalf("SELECT version(): %v", err)
	}
	if !strings.HasPrefix(version, "PostgreSQL ") || user != "postgres" {
		t.Fatalf("version() = %q, current_user = %q", version, user)
	}
	t.Log(version)

	// TCP logins need the password (scram-sha-256).
	bad := strings.Replace(srv.DSN(), ":"+srv.Password+"@", ":wrong@", 1)
	if c, err := pgx.Connect(ctx, bad); err == nil {
		c.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
	var method string
	if err := conn.QueryRow(ctx, "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' LIMIT 1").Scan(&method); err != nil || method != "scram-sha-256" {
		t.Errorf("pg_hba host auth method = %q, %v; want scram-sha-256", method, err)
	}

	// The Unix socket trusts local users: no password needed.
	sock, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", srv.SocketDir, srv.Port))
	if err != nil {
		t.Fatalf("connect through the Unix socket in %s: %v", srv.SocketDir, err)
	}
	sock.Close(ctx)

	// Other databases are reachable with DatabaseDSN.
	if _, err := conn.Exec(ctx, "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	app, err := pgx.Connect(ctx, srv.DatabaseDSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	var db string
	if err := app.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "app" {
		t.Errorf("current_database() = %q, %v", db, err)
	}
	app.Close(ctx)
}

func TestStartPostgresKeepsDataDir(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Not t.TempDir(): its 0700 parent would keep the postgres user out.
	dir, err := os.MkdirTemp("", "stratus-pg-kept-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	srv, err := StartPostgres(ctx, PostgresOptions{DataDir: dir, Password: "dev-password"})
	if err != nil {
		t.Fatal(err)
	}
	exec := func(srv *PostgresServer, sql string, args ...any) {
		t.Helper()
		conn, err := pgx.Connect(ctx, srv.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(srv, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	srv, err = StartPostgres(ctx, PostgresOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if srv.Password != "dev-password" {
		t.Errorf("password after restart = %q; want the saved one", srv.Password)
	}
	exec(srv, "DO $$ BEGIN IF (SELECT v FROM kept) <> 'still here' THEN RAISE 'lost'; END IF; END $$")
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name  string
		start func(context.Context) error
		want  string
	}{
		{"versitygw", func(ctx context.Context) error {
			_, err := StartS3(ctx, S3Options{BackendPort: busy})
			return err
		}, "address already in use"},
		{"shim", func(ctx context.Context) error {
			_, err := StartS3(ctx, S3Options{Port: busy})
			return err
		}, "address already in use"},
		{"postgres", func(ctx context.Context) error {
			_, err := StartPostgres(ctx, PostgresOptions{Port: busy})
			return err
		}, "could not bind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := tt.start(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("start on a busy port: %v; want an error with %q", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestStartPostgresUnreachableDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the postgres user only comes into play when running as root")
	}
	parent, err := os.MkdirTemp("", "stratus-private-") // 0700, owned by root
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	_, err = StartPostgres(context.Background(), PostgresOptions{DataDir: filepath.Join(parent, "pg")})
	if err == nil || !strings.Contains(err.Error(), "cannot enter") {
		t.Fatalf("StartPostgres in a dir the postgres user cannot reach: %v; want a clear error", err)
	}
}
