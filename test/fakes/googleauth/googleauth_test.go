package googleauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2/google"
)

func TestServiceAccountKeyGetsAToken(t *testing.T) {
	s, err := Start("stratus@test-project.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	api := httptest.NewServer(s.Require(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	defer api.Close()

	creds, err := google.CredentialsFromJSON(context.Background(), s.ServiceAccountJSON("test-project"), "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatalf("parse the service account key: %v", err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatalf("exchange the key for a token: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("request with an issued token: status %d, want 204", resp.StatusCode)
	}

	anon, _ := http.Get(api.URL)
	if anon.StatusCode != http.StatusUnauthorized {
		t.Errorf("request without a token: status %d, want 401", anon.StatusCode)
	}

	other, err := Start("intruder@test-project.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// A key this endpoint did not issue is refused.
	var key map[string]string
	if err := json.Unmarshal(other.ServiceAccountJSON("test-project"), &key); err != nil {
		t.Fatal(err)
	}
	key["token_uri"] = s.TokenURI()
	forgedJSON, _ := json.Marshal(key)
	forged, err := google.CredentialsFromJSON(context.Background(), forgedJSON, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forged.TokenSource.Token(); err == nil {
		t.Errorf("a key signed by another account got a token")
	}
	if s.Issued() != 1 {
		t.Errorf("issued %d tokens, want 1", s.Issued())
	}
}
