package postgres

import (
	"io"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

func TestConnect(t *testing.T) {
	admin(t, "CREATE ROLE connect_no_slots LOGIN CONNECTION LIMIT 0 PASSWORD 'slot-password'")
	t.Cleanup(func() { admin(t, "DROP ROLE connect_no_slots") })
	closedPort := func() int32 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return int32(l.Addr().(*net.TCPAddr).Port)
	}()
	const wrongPassword = "not-the-password-xyzzy"

	tests := []struct {
		reason string
		cfg    func() driver.Config
		check  func(t *testing.T, err error)
	}{
		{
			reason: "The server's superuser connects.",
			cfg:    superuserConfig,
			check:  wantNoError,
		},
		{
			reason: "A wrong password is bad credentials, and the error does not reveal it.",
			cfg:    func() driver.Config { return config(pg.User, wrongPassword) },
			check: func(t *testing.T, err error) {
				if !driver.IsBadCredentials(err) {
					t.Errorf("Connect(...): %v; want bad credentials", err)
				}
				if err != nil && strings.Contains(err.Error(), wrongPassword) {
					t.Errorf("Connect(...): %q reveals the password", err)
				}
			},
		},
		{
			reason: "An unknown user is bad credentials.",
			cfg:    func() driver.Config { return config("nobody_here", "whatever") },
			check:  wantBadCredentials,
		},
		{
			reason: "A missing username is named.",
			cfg: func() driver.Config {
				cfg := superuserConfig()
				delete(cfg.Credentials, "username")
				return cfg
			},
			check: wantErrorContaining(`"username"`),
		},
		{
			reason: "A missing password is named.",
			cfg: func() driver.Config {
				cfg := superuserConfig()
				delete(cfg.Credentials, "password")
				return cfg
			},
			check: wantErrorContaining(`"password"`),
		},
		{
			reason: "A server that refuses more connections is throttling (53300).",
			cfg:    func() driver.Config { return config("connect_no_slots", "slot-password") },
			check: func(t *testing.T, err error) {
				if !driver.IsThrottled(err) {
					t.Errorf("Connect(...): %v; want throttled", err)
				}
			},
		},
		{
			reason: "An unreachable server is an ordinary error, retried with backoff.",
			cfg: func() driver.Config {
				cfg := superuserConfig()
				cfg.Spec.PostgreSQL.Port = closedPort
				return cfg
			},
			check: func(t *testing.T, err error) {
				if err == nil || driver.IsTerminal(err) || driver.IsBadCredentials(err) || driver.IsThrottled(err) {
					t.Errorf("Connect(...): %v; want a plain error", err)
				}
			},
		},
		{
			reason: "A configuration without its postgresql block cannot work.",
			cfg: func() driver.Config {
				cfg := superuserConfig()
				cfg.Spec.PostgreSQL = nil
				return cfg
			},
			check: wantTerminal,
		},
		{
			reason: "A configuration for another provider cannot work.",
			cfg: func() driver.Config {
				cfg := superuserConfig()
				cfg.Spec.Provider = stratusv1alpha1.ProviderAWS
				return cfg
			},
			check: wantTerminal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			c, err := NewDatabaseDriver().Connect(t.Context(), tt.cfg())
			if c != nil {
				closer, ok := c.(io.Closer)
				if !ok {
					t.Fatalf("%s\nthe client is not an io.Closer", tt.reason)
				}
				defer closer.Close()
			}
			if err == nil && c == nil {
				t.Fatalf("%s\nConnect(...) returned neither a client nor an error", tt.reason)
			}
			tt.check(t, err)
		})
	}
}

func wantNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("Connect(...): %v", err)
	}
}

func wantBadCredentials(t *testing.T, err error) {
	t.Helper()
	if !driver.IsBadCredentials(err) {
		t.Errorf("Connect(...): %v; want bad credentials", err)
	}
}

func wantTerminal(t *testing.T, err error) {
	t.Helper()
	if !driver.IsTerminal(err) {
		t.Errorf("Connect(...): %v; want a terminal error", err)
	}
}

func wantErrorContaining(s string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("Connect(...): %v; want an error containing %s", err, s)
		}
	}
}

func TestGenerateCredentials(t *testing.T) {
	generate := NewDatabaseDriver().GenerateCredentials
	if generate == nil {
		t.Fatal("the driver does not generate credentials: the owner role needs a password")
	}
	alnum := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		creds, err := generate()
		if err != nil {
			t.Fatalf("GenerateCredentials(): %v", err)
		}
		if len(creds) != 1 {
			t.Fatalf("GenerateCredentials() = %d keys; want only password", len(creds))
		}
		p := string(creds["password"])
		if !alnum.MatchString(p) {
			t.Fatalf("GenerateCredentials() password %q is not 32 alphanumeric characters", p)
		}
		if seen[p] {
			t.Fatalf("GenerateCredentials() repeated password %q", p)
		}
		seen[p] = true
	}
}

func TestConnectionDetails(t *testing.T) {
	tests := []struct {
		reason   string
		server   server
		names    names
		password string
		wantURI  string
	}{
		{
			reason:   "Plain names need no escaping.",
			server:   server{host: "db.example.com", port: 5432, sslMode: "require"},
			names:    names{database: "orders", owner: "orders_owner"},
			password: "Secr3tPassw0rd",
			wantURI:  "postgresql://orders_owner:Secr3tPassw0rd@db.example.com:5432/orders?sslmode=require",
		},
		{
			reason:   "Every character that means something in a URI is escaped.",
			server:   server{host: "::1", port: 6543, sslMode: "verify-full"},
			names:    names{database: "my db/x?y#z", owner: "o@w:n/er"},
			password: "p@ss:w/rd?#% &=",
			wantURI:  "postgresql://o%40w%3An%2Fer:p%40ss%3Aw%2Frd%3F%23%25%20&=@[::1]:6543/my%20db%2Fx%3Fy%23z?sslmode=verify-full",
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			c := &client{server: tt.server}
			got := c.connectionDetails(tt.names, tt.password)
			if diff := cmp.Diff(tt.wantURI, string(got[driver.ConnectionURI])); diff != "" {
				t.Errorf("%s\nconnectionDetails(...) uri: -want, +got:\n%s", tt.reason, diff)
			}
			// What a client makes of the uri is what the other keys say.
			cfg, err := pgx.ParseConfig(string(got[driver.ConnectionURI]))
			if err != nil {
				t.Fatalf("%s\npgx.ParseConfig(uri): %v", tt.reason, err)
			}
			fromURI := map[string]string{
				"host": cfg.Host, "user": cfg.User, "password": cfg.Password, "database": cfg.Database,
			}
			fromKeys := map[string]string{
				"host": string(got["host"]), "user": string(got["user"]),
				"password": string(got["password"]), "database": string(got["database"]),
			}
			if diff := cmp.Diff(fromKeys, fromURI); diff != "" {
				t.Errorf("%s\nthe uri disagrees with the other keys: -keys, +uri:\n%s", tt.reason, diff)
			}
			if int32(cfg.Port) != tt.server.port {
				t.Errorf("%s\nthe uri's port is %d; want %d", tt.reason, cfg.Port, tt.server.port)
			}
		})
	}
}
