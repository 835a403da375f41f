package postgres

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Verifiers PostgreSQL 15 produced for the password below:
//
//	CREATE ROLE scram_role PASSWORD 'correct horse battery staple';
//	SET password_encryption = md5;
//	CREATE ROLE md5_role PASSWORD 'correct horse battery staple';
//	SELECT rolname, rolpassword FROM pg_authid;
const (
	knownPassword      = "correct horse battery staple"
	knownSCRAMVerifier = "SCRAM-SHA-256$4096:IfYCH+L/acjFH0JTgo1ECQ==$h8cPvSlcf+r/3dGWzl8SVi1gPA5+ZVonhMKrUA15xBU=:7GEEb984BVGYNuKj6sKzRe2PvEGObM7+khnpu3u9ms4="
	knownMD5Verifier   = "md55b5ef194c579a57f591bcb0d3772f831" // of role md5_role
)

func TestPasswordMatches(t *testing.T) {
	tests := []struct {
		reason   string
		verifier string
		role     string
		password string
		want     bool
		wantErr  string
	}{
		{reason: "The password a SCRAM verifier was made from.", verifier: knownSCRAMVerifier, password: knownPassword, want: true},
		{reason: "Another password.", verifier: knownSCRAMVerifier, password: knownPassword + " ", want: false},
		{reason: "The empty password.", verifier: knownSCRAMVerifier, password: "", want: false},
		{reason: "An md5 verifier's password and role.", verifier: knownMD5Verifier, role: "md5_role", password: knownPassword, want: true},
		{reason: "An md5 verifier salts with the role name.", verifier: knownMD5Verifier, role: "other_role", password: knownPassword, want: false},
		{reason: "A verifier of no known kind.", verifier: "SCRAM-SHA-512$4096:abc$def:ghi", password: knownPassword, wantErr: errUnknownVerifier.Error()},
		{reason: "No keys.", verifier: "SCRAM-SHA-256$4096:IfYCH+L/acjFH0JTgo1ECQ==", wantErr: "no keys"},
		{reason: "No salt.", verifier: "SCRAM-SHA-256$4096$a:b", wantErr: "no salt"},
		{reason: "No server key.", verifier: "SCRAM-SHA-256$4096:IfYCH+L/acjFH0JTgo1ECQ==$h8cPvSlcf+r/3dGWzl8SVi1gPA5+ZVonhMKrUA15xBU=", wantErr: "no server key"},
		{reason: "A bad iteration count.", verifier: strings.Replace(knownSCRAMVerifier, "4096", "0", 1), wantErr: "iteration count"},
		{reason: "A salt that is not base64.", verifier: strings.Replace(knownSCRAMVerifier, "IfYCH+L/", "!!!!", 1), wantErr: "salt"},
		{reason: "A stored key of the wrong length.", verifier: strings.Replace(knownSCRAMVerifier, "h8cPvSlcf+r/", "", 1), wantErr: "stored key"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			got, err := passwordMatches(tt.verifier, tt.role, tt.password)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s\npasswordMatches(...) = %t, %v; want an error containing %q", tt.reason, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\npasswordMatches(...): %v", tt.reason, err)
			}
			if got != tt.want {
				t.Errorf("%s\npasswordMatches(...) = %t; want %t", tt.reason, got, tt.want)
			}
		})
	}
}

func TestSCRAMVerifier(t *testing.T) {
	// With PostgreSQL's salt and iterations, the verifier the driver makes is
	// byte for byte the one PostgreSQL made: stored key and server key alike.
	salt, err := base64.StdEncoding.DecodeString("IfYCH+L/acjFH0JTgo1ECQ==")
	if err != nil {
		t.Fatal(err)
	}
	got, err := scramVerifier(knownPassword, salt, 4096)
	if err != nil {
		t.Fatalf("scramVerifier(...): %v", err)
	}
	if diff := cmp.Diff(knownSCRAMVerifier, got); diff != "" {
		t.Errorf("scramVerifier(...): -want, +got:\n%s", diff)
	}
}

func TestPasswordForServer(t *testing.T) {
	tests := []struct {
		reason   string
		password string
		wantSent bool // the password itself is sent, not a verifier
	}{
		{reason: "A generated password is sent as a verifier.", password: "Abcdefghij0123456789abcdefghijKL"},
		{reason: "Printable ASCII is sent as a verifier.", password: `p@ss w'rd"; --`},
		{reason: "Non-ASCII needs SASLprep, which the server does.", password: "pässwörd", wantSent: true},
		{reason: "So do control characters.", password: "tab\there", wantSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			got, err := passwordForServer(tt.password)
			if err != nil {
				t.Fatalf("%s\npasswordForServer(...): %v", tt.reason, err)
			}
			if tt.wantSent {
				if got != tt.password {
					t.Errorf("%s\npasswordForServer(...) = %q; want the password itself", tt.reason, got)
				}
				return
			}
			if strings.Contains(got, tt.password) {
				t.Errorf("%s\npasswordForServer(...) = %q contains the password", tt.reason, got)
			}
			ok, err := passwordMatches(got, "", tt.password)
			if err != nil || !ok {
				t.Errorf("%s\npasswordForServer(...) = %q does not verify the password: %t, %v", tt.reason, got, ok, err)
			}
			again, _ := passwordForServer(tt.password)
			if again == got {
				t.Errorf("%s\npasswordForServer(...) made the same verifier twice: the salt is not random", tt.reason)
			}
		})
	}
}

func TestPasswordDriftOnServer(t *testing.T) {
	// Verifiers the server makes from a plain password, SCRAM or md5, as an
	// administrator's ALTER ROLE would.
	c := connectClient(t, superuserConfig()).(*client)
	admin(t,
		"CREATE ROLE drift_scram LOGIN PASSWORD 'right-password'",
		"SET password_encryption = md5",
		"CREATE ROLE drift_md5 LOGIN PASSWORD 'right-password'",
		"CREATE ROLE drift_none LOGIN",
	)
	t.Cleanup(func() { admin(t, "DROP ROLE drift_scram", "DROP ROLE drift_md5", "DROP ROLE drift_none") })
	tests := []struct {
		reason   string
		role     string
		password string
		want     bool
	}{
		{reason: "SCRAM, same password.", role: "drift_scram", password: "right-password", want: false},
		{reason: "SCRAM, another password.", role: "drift_scram", password: "wrong-password", want: true},
		{reason: "md5, same password.", role: "drift_md5", password: "right-password", want: false},
		{reason: "md5, another password.", role: "drift_md5", password: "wrong-password", want: true},
		{reason: "A role without a password.", role: "drift_none", password: "right-password", want: true},
		{reason: "A role that is gone.", role: "drift_gone", password: "right-password", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			got, err := c.passwordDrifted(t.Context(), tt.role, tt.password)
			if err != nil {
				t.Fatalf("%s\npasswordDrifted(...): %v", tt.reason, err)
			}
			if got != tt.want {
				t.Errorf("%s\npasswordDrifted(...) = %t; want %t", tt.reason, got, tt.want)
			}
		})
	}
}
