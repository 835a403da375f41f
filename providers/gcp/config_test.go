package gcp

import (
	"context"
	"strings"
	"testing"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// TestConfinedKeyFiles: a namespace's own configuration cannot make the
// operator send a signed assertion to a token_uri of the key file's choosing.
func TestConfinedKeyFiles(t *testing.T) {
	key := func(tokenURI, universe string) map[string][]byte {
		return map[string][]byte{KeyCredentialsJSON: []byte(`{"type":"service_account","project_id":"p","client_email":"a@p.iam.gserviceaccount.com","private_key":"x","token_uri":"` + tokenURI + `","universe_domain":"` + universe + `"}`)}
	}
	cases := []struct {
		reason   string
		confined bool
		creds    map[string][]byte
		wantErr  string
	}{
		{"Google's own token endpoint is fine for a confined configuration", true, key(googleTokenURI, googleUniverse), ""},
		{"a key file without token_uri uses Google's", true, key("", ""), ""},
		{"a confined configuration's key file may not name another token endpoint", true, key("http://169.254.169.254/token", ""), "token_uri"},
		{"nor another universe", true, key(googleTokenURI, "evil.example"), "universe_domain"},
		{"a trusted configuration (a ClusterProviderConfig, a labelled namespace) may, for emulators and private endpoints", false, key("http://127.0.0.1:1/token", ""), ""},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			cfg := driver.Config{
				Spec:        stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderGCP, Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret}},
				Credentials: tc.creds,
				Confined:    tc.confined,
			}
			_, err := connect(context.Background(), cfg, "Cloud Storage")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s: connect: %v", tc.reason, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !driver.IsTerminal(err)):
				t.Errorf("%s: connect = %v, want a terminal error naming %s", tc.reason, err, tc.wantErr)
			}
		})
	}
}
