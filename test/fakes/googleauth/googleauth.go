// Package googleauth is a test-only stand-in for Google's OAuth 2.0 token
// endpoint. It issues service-account keys whose token_uri points at itself,
// exchanges the signed JWT assertions that Google's client libraries send
// for access tokens (checking the signature), and offers a middleware that
// lets through only requests bearing a token it issued. The fakes of Google
// APIs under test/ use it so that the drivers' real credential code runs.
package googleauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// jwtBearerGrant is the grant type of a service-account token request.
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// Server is a running token endpoint.
type Server struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	// Email is the service account's address.
	Email string

	mu     sync.Mutex
	tokens map[string]bool
	issued int
}

// Start starts a token endpoint on loopback for one service account.
func Start(email string) (*Server, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate service account key: %w", err)
	}
	s := &Server{key: key, Email: email, tokens: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.token))
	return s, nil
}

// Close stops the endpoint.
func (s *Server) Close() { s.srv.Close() }

// TokenURI is the token endpoint's URL.
func (s *Server) TokenURI() string { return s.srv.URL + "/token" }

// Issued returns how many access tokens were issued.
func (s *Server) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// ServiceAccountJSON returns a service-account key file whose token_uri is
// this endpoint, as a Secret's credentials.json would hold it.
func (s *Server) ServiceAccountJSON(projectID string) []byte {
	der := x509.MarshalPKCS1PrivateKey(s.key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})
	data, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     projectID,
		"private_key_id": "test-key",
		"private_key":    string(pemKey),
		"client_email":   s.Email,
		"client_id":      "1234567890",
		"token_uri":      s.TokenURI(),
		"auth_uri":       s.srv.URL + "/auth",
	})
	return data
}

// token answers a token request: a JWT assertion signed with the service
// account's key gets an access token; anything else gets invalid_grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != jwtBearerGrant {
		oauthError(w, "unsupported_grant_type", "only the JWT bearer grant is served")
		return
	}
	if err := s.verify(r.PostForm.Get("assertion")); err != nil {
		oauthError(w, "invalid_grant", "Invalid JWT Signature: "+err.Error())
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.test-" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = true
	s.issued++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3600, "token_type": "Bearer"})
}

// verify checks a JWT's RS256 signature, issuer and expiry.
func (s *Server) verify(assertion string) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("bad signature encoding")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("signature does not verify")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("bad claims encoding")
	}
	var claims struct {
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("bad claims")
	}
	if claims.Iss != s.Email {
		return fmt.Errorf("unknown issuer")
	}
	if time.Unix(claims.Exp, 0).Before(time.Now()) {
		return fmt.Errorf("expired")
	}
	return nil
}

// Valid reports whether an Authorization header bears a token this
// endpoint issued.
func (s *Server) Valid(authorization string) bool {
	tok, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[tok]
}

// Require wraps a Google API fake so that a request without a valid token
// gets the 401 UNAUTHENTICATED answer Google APIs give.
func (s *Server) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Valid(r.Header.Get("Authorization")) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"code":    401,
				"message": "Request had invalid authentication credentials. Expected OAuth 2 access token.",
				"status":  "UNAUTHENTICATED",
			}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func oauthError(w http.ResponseWriter, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}
