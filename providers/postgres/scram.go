package postgres

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SCRAM-SHA-256 verifiers, as PostgreSQL stores them in pg_authid.rolpassword:
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// with the salt and keys in standard base64 (RFC 5802, RFC 7677).
const (
	scramPrefix = "SCRAM-SHA-256$"
	// scramIterations and scramSaltLength are PostgreSQL's defaults.
	scramIterations = 4096
	scramSaltLength = 16
	md5Prefix       = "md5"
)

// errUnknownVerifier is returned for a password verifier in a format the
// driver cannot check.
var errUnknownVerifier = errors.New("unknown password verifier format")

// passwordMatches reports whether password is the one verifier (a
// pg_authid.rolpassword of role) was made from. It understands SCRAM-SHA-256
// and md5 verifiers. The password is not SASLprep-normalized, which makes no
// difference for ASCII passwords such as the generated ones.
func passwordMatches(verifier, role, password string) (bool, error) {
	switch {
	case strings.HasPrefix(verifier, scramPrefix):
		return scramMatches(verifier, password)
	case strings.HasPrefix(verifier, md5Prefix) && len(verifier) == len(md5Prefix)+2*md5.Size:
		sum := md5.Sum([]byte(password + role))
		want := md5Prefix + hex.EncodeToString(sum[:])
		return hmac.Equal([]byte(want), []byte(verifier)), nil
	}
	return false, errUnknownVerifier
}

// scramMatches reports whether password is the one a SCRAM-SHA-256 verifier
// was made from: SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, i),
// ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = SHA256(ClientKey).
func scramMatches(verifier, password string) (bool, error) {
	iterations, salt, storedKey, err := parseSCRAM(verifier)
	if err != nil {
		return false, err
	}
	got, err := scramStoredKey(password, salt, iterations)
	if err != nil {
		return false, err
	}
	return hmac.Equal(got, storedKey), nil
}

// parseSCRAM splits a SCRAM-SHA-256 verifier.
func parseSCRAM(verifier string) (iterations int, salt, storedKey []byte, err error) {
	malformed := func(why string) (int, []byte, []byte, error) {
		// Never quote the verifier: it is as good as a password to an
		// attacker who can run an offline search.
		return 0, nil, nil, fmt.Errorf("malformed SCRAM-SHA-256 verifier: %s", why)
	}
	rest, ok := strings.CutPrefix(verifier, scramPrefix)
	if !ok {
		return malformed("no SCRAM-SHA-256$ prefix")
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return malformed("no keys")
	}
	iter, saltB64, ok := strings.Cut(params, ":")
	if !ok {
		return malformed("no salt")
	}
	storedB64, serverB64, ok := strings.Cut(keys, ":")
	if !ok || serverB64 == "" {
		return malformed("no server key")
	}
	if iterations, err = strconv.Atoi(iter); err != nil || iterations < 1 {
		return malformed("bad iteration count")
	}
	if salt, err = base64.StdEncoding.DecodeString(saltB64); err != nil || len(salt) == 0 {
		return malformed("bad salt")
	}
	if storedKey, err = base64.StdEncoding.DecodeString(storedB64); err != nil || len(storedKey) != sha256.Size {
		return malformed("bad stored key")
	}
	if serverKey, err := base64.StdEncoding.DecodeString(serverB64); err != nil || len(serverKey) != sha256.Size {
		return malformed("bad server key")
	}
	return iterations, salt, storedKey, nil
}

// saltedPassword is PBKDF2-HMAC-SHA256(password, salt, iterations).
func saltedPassword(password string, salt []byte, iterations int) ([]byte, error) {
	return pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
}

// scramStoredKey is SHA256(HMAC(SaltedPassword, "Client Key")).
func scramStoredKey(password string, salt []byte, iterations int) ([]byte, error) {
	sp, err := saltedPassword(password, salt, iterations)
	if err != nil {
		return nil, err
	}
	stored := sha256.Sum256(hmacSHA256(sp, "Client Key"))
	return stored[:], nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// scramVerifier returns the SCRAM-SHA-256 verifier of password with salt,
// in PostgreSQL's format.
func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	sp, err := saltedPassword(password, salt, iterations)
	if err != nil {
		return "", err
	}
	stored := sha256.Sum256(hmacSHA256(sp, "Client Key"))
	server := hmacSHA256(sp, "Server Key")
	enc := base64.StdEncoding
	return fmt.Sprintf("%s%d:%s$%s:%s", scramPrefix, iterations,
		enc.EncodeToString(salt), enc.EncodeToString(stored[:]), enc.EncodeToString(server)), nil
}

// passwordForServer returns what to put in CREATE ROLE ... PASSWORD: a
// SCRAM-SHA-256 verifier with a random salt, which PostgreSQL stores as it
// is, so the password itself never reaches the server (nor its statement
// logs), as psql's \password does. A password with characters other than
// printable ASCII is sent as it is, since PostgreSQL normalizes those with
// SASLprep before hashing, which this package does not implement.
func passwordForServer(password string) (string, error) {
	for i := 0; i < len(password); i++ {
		if password[i] < 0x20 || password[i] > 0x7e {
			return password, nil
		}
	}
	salt := make([]byte, scramSaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("cannot make a salt: %w", err)
	}
	return scramVerifier(password, salt, scramIterations)
}
