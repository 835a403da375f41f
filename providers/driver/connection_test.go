package driver

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDatabaseConnectionDetails(t *testing.T) {
	mysqlTLS := url.Values{"ssl-mode": {"REQUIRED"}}
	cases := map[string]struct {
		reason string
		conn   DatabaseConnection
		want   map[string]string
	}{
		"PostgreSQL": {
			reason: "Every key is published, and the URI's query is the sslmode.",
			conn: DatabaseConnection{
				Scheme: "postgresql", Host: "db.example.com", Port: 5432,
				User: "orders_owner", Password: "Secr3tPassw0rd", Database: "orders", SSLMode: "prefer",
			},
			want: map[string]string{
				ConnectionHost: "db.example.com", ConnectionPort: "5432", ConnectionUser: "orders_owner",
				ConnectionPassword: "Secr3tPassw0rd", ConnectionDatabase: "orders", ConnectionSSLMode: "prefer",
				ConnectionURI: "postgresql://orders_owner:Secr3tPassw0rd@db.example.com:5432/orders?sslmode=prefer",
			},
		},
		"CloudSQLMySQL": {
			reason: "Without an SSLMode there is no sslmode key; the URI's query is URIQuery.",
			conn: DatabaseConnection{
				Scheme: "mysql", Host: "10.0.0.3", Port: 3306,
				User: "stratus_admin", Password: "pw", Database: "shop", URIQuery: mysqlTLS,
			},
			want: map[string]string{
				ConnectionHost: "10.0.0.3", ConnectionPort: "3306", ConnectionUser: "stratus_admin",
				ConnectionPassword: "pw", ConnectionDatabase: "shop",
				ConnectionURI: "mysql://stratus_admin:pw@10.0.0.3:3306/shop?ssl-mode=REQUIRED",
			},
		},
		"RDSMySQL": {
			reason: "URIQuery replaces the sslmode in the URI, while the sslmode key stays.",
			conn: DatabaseConnection{
				Scheme: "mysql", Host: "orders.cabc.us-east-1.rds.amazonaws.com", Port: 3306,
				User: "stratus_admin", Password: "pw", Database: "orders", SSLMode: "require", URIQuery: mysqlTLS,
			},
			want: map[string]string{
				ConnectionHost: "orders.cabc.us-east-1.rds.amazonaws.com", ConnectionPort: "3306", ConnectionUser: "stratus_admin",
				ConnectionPassword: "pw", ConnectionDatabase: "orders", ConnectionSSLMode: "require",
				ConnectionURI: "mysql://stratus_admin:pw@orders.cabc.us-east-1.rds.amazonaws.com:3306/orders?ssl-mode=REQUIRED",
			},
		},
		"NoHost": {
			reason: "Without a host there is no host, port or URI.",
			conn: DatabaseConnection{
				Scheme: "postgresql", Port: 5432, User: "stratus_admin", Password: "pw", Database: "orders", SSLMode: "require",
			},
			want: map[string]string{
				ConnectionUser: "stratus_admin", ConnectionPassword: "pw", ConnectionDatabase: "orders", ConnectionSSLMode: "require",
			},
		},
		"NoPassword": {
			reason: "Without a password there is neither it nor the URI.",
			conn: DatabaseConnection{
				Scheme: "postgresql", Host: "orders.example.com", Port: 5432,
				User: "stratus_admin", Database: "orders", SSLMode: "require",
			},
			want: map[string]string{
				ConnectionHost: "orders.example.com", ConnectionPort: "5432", ConnectionUser: "stratus_admin",
				ConnectionDatabase: "orders", ConnectionSSLMode: "require",
			},
		},
		"NothingKnown": {
			reason: "The user and database are published even when nothing else is known.",
			conn:   DatabaseConnection{Scheme: "mysql", User: "stratus_admin", Database: "orders", URIQuery: mysqlTLS},
			want:   map[string]string{ConnectionUser: "stratus_admin", ConnectionDatabase: "orders"},
		},
		"NoQuery": {
			reason: "Without an SSLMode or a URIQuery the URI has no query.",
			conn: DatabaseConnection{
				Scheme: "postgresql", Host: "db", Port: 5432, User: "u", Password: "p", Database: "d",
			},
			want: map[string]string{
				ConnectionHost: "db", ConnectionPort: "5432", ConnectionUser: "u", ConnectionPassword: "p", ConnectionDatabase: "d",
				ConnectionURI: "postgresql://u:p@db:5432/d",
			},
		},
		"Escaping": {
			reason: "The user, password and database are escaped in the URI, and an IPv6 host is bracketed; the other keys hold them as they are.",
			conn: DatabaseConnection{
				Scheme: "postgresql", Host: "::1", Port: 6543,
				User: "o@w:n/er", Password: "p@ss:w/rd?#% &=", Database: "my db/x?y#z", SSLMode: "verify-full",
			},
			want: map[string]string{
				ConnectionHost: "::1", ConnectionPort: "6543", ConnectionUser: "o@w:n/er",
				ConnectionPassword: "p@ss:w/rd?#% &=", ConnectionDatabase: "my db/x?y#z", ConnectionSSLMode: "verify-full",
				ConnectionURI: "postgresql://o%40w%3An%2Fer:p%40ss%3Aw%2Frd%3F%23%25%20&=@[::1]:6543/my%20db%2Fx%3Fy%23z?sslmode=verify-full",
			},
		},
		"EscapedQuery": {
			reason: "The query's keys and values are escaped too.",
			conn: DatabaseConnection{
				Scheme: "mysql", Host: "db", Port: 3306, User: "u", Password: "p", Database: "d",
				URIQuery: url.Values{"a b": {"c&d"}, "ssl-mode": {"REQUIRED"}},
			},
			want: map[string]string{
				ConnectionHost: "db", ConnectionPort: "3306", ConnectionUser: "u", ConnectionPassword: "p", ConnectionDatabase: "d",
				ConnectionURI: "mysql://u:p@db:3306/d?a+b=c%26d&ssl-mode=REQUIRED",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := map[string]string{}
			details := tc.conn.Details()
			for k, v := range details {
				got[k] = string(v)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nDetails(): -want, +got:\n%s", tc.reason, diff)
			}
			raw, ok := details[ConnectionURI]
			if !ok {
				return
			}
			// The URI parses back to the parts it was made of.
			u, err := url.Parse(string(raw))
			if err != nil {
				t.Fatalf("%s\nurl.Parse(%q): %v", tc.reason, raw, err)
			}
			password, _ := u.User.Password()
			query := tc.conn.URIQuery
			if query == nil && tc.conn.SSLMode != "" {
				query = url.Values{"sslmode": {tc.conn.SSLMode}}
			}
			if query == nil {
				query = url.Values{}
			}
			wantParts := []string{tc.conn.Scheme, tc.conn.Host, tc.conn.User, tc.conn.Password, "/" + tc.conn.Database, query.Encode()}
			gotParts := []string{u.Scheme, u.Hostname(), u.User.Username(), password, u.Path, u.Query().Encode()}
			if diff := cmp.Diff(wantParts, gotParts); diff != "" {
				t.Errorf("%s\nthe URI %q parses to other parts (scheme, host, user, password, path, query): -want, +got:\n%s", tc.reason, raw, diff)
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	seen := map[string]bool{}
	for range 100 {
		details, err := GeneratePassword()
		if err != nil {
			t.Fatalf("GeneratePassword(): %v", err)
		}
		if len(details) != 1 {
			t.Errorf("GeneratePassword(): %d keys, want only %q", len(details), ConnectionPassword)
		}
		p := string(details[ConnectionPassword])
		if len(p) != 32 || strings.Trim(p, alphabet) != "" {
			t.Errorf("GeneratePassword(): password %q, want 32 characters of [A-Za-z0-9]", p)
		}
		if seen[p] {
			t.Errorf("GeneratePassword(): password %q repeated", p)
		}
		seen[p] = true
	}
}
