package rds

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sigV4 is the algorithm of an Authorization header.
const sigV4 = "AWS4-HMAC-SHA256"

// amzDateFormat is the format of the X-Amz-Date header.
const amzDateFormat = "20060102T150405Z"

// maxSkew is how far a request's signing time may be from the server's, as
// on AWS.
const maxSkew = 15 * time.Minute

// The messages AWS answers refused signatures with.
const (
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken      = "The security token included in the request is invalid."
)

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKeyID   string
	date          string // the scope's yyyymmdd
	region        string
	service       string
	signedHeaders []string
	signature     string
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/20250101/
// us-east-1/rds/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(header string) (authorization, *apiError) {
	alg, rest, _ := strings.Cut(header, " ")
	if alg != sigV4 {
		return authorization{}, errorf(http.StatusBadRequest, "IncompleteSignature", "Unsupported AWS 'algorithm': '%s'", alg)
	}
	var a authorization
	var credential, signedHeaders string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		case "Signature":
			a.signature = v
		}
	}
	var missing []string
	for _, p := range []struct{ name, value string }{{"Credential", credential}, {"Signature", a.signature}, {"SignedHeaders", signedHeaders}} {
		if p.value == "" {
			missing = append(missing, "Authorization header requires '"+p.name+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return authorization{}, errorf(http.StatusBadRequest, "IncompleteSignature", "%s Authorization=%s", strings.Join(missing, " "), alg)
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return authorization{}, errorf(http.StatusBadRequest, "IncompleteSignature",
			"Credential should be scoped to a valid region, not '%s'. Credential should be scoped with a valid terminator: 'aws4_request'.", credential)
	}
	a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(signedHeaders, ";")
	return a, nil
}

// authenticate verifies a request's SigV4 signature by signing it again with
// the secret of the access key it names, and returns the region of its
// credential scope.
func (h *Handler) authenticate(r *http.Request, body []byte) (string, *apiError) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return "", errorf(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	a, err := parseAuthorization(header)
	if err != nil {
		return "", err
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return "", errorf(http.StatusBadRequest, "IncompleteSignature", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", sigV4)
	}
	signed, perr := time.Parse(amzDateFormat, amzDate)
	if perr != nil {
		return "", errorf(http.StatusBadRequest, "IncompleteSignature", "Date must be in ISO-8601 'basic format'. Got '%s'.", amzDate)
	}
	if a.date != signed.Format("20060102") {
		return "", errorf(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to a valid date: '%s'.", signed.Format("20060102"))
	}
	if a.service != SigningName {
		return "", errorf(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: '%s'.", SigningName)
	}
	secret, ok := h.cfg.credentials[a.accessKeyID]
	if !ok || r.Header.Get("X-Amz-Security-Token") != "" {
		// The fake issues no temporary credentials: any session token is
		// one it did not issue.
		return "", errorf(http.StatusForbidden, "InvalidClientTokenId", msgInvalidToken)
	}
	now := time.Now().UTC()
	if signed.Before(now.Add(-maxSkew)) {
		return "", errorf(http.StatusForbidden, "SignatureDoesNotMatch", "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	if signed.After(now.Add(maxSkew)) {
		return "", errorf(http.StatusForbidden, "SignatureDoesNotMatch", "Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(maxSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return "", errorf(http.StatusForbidden, "SignatureDoesNotMatch", "'Host' must be a signed header")
	}

	// Rebuild the request from what was signed: the method, the URL, and
	// the signed headers only, since a transport may add others (such as
	// Accept-Encoding) after signing.
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	resigned, nerr := http.NewRequest(r.Method, u.String(), nil)
	if nerr != nil {
		return "", errorf(http.StatusBadRequest, "MalformedQueryString", "The request URL is malformed")
	}
	resigned.Host = r.Host
	for _, name := range a.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			resigned.ContentLength = int64(len(body))
		default:
			resigned.Header[textproto.CanonicalMIMEHeaderKey(name)] = r.Header.Values(name)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.accessKeyID, SecretAccessKey: secret}
	if serr := v4.NewSigner().SignHTTP(r.Context(), creds, resigned, hex.EncodeToString(sum[:]), a.service, a.region, signed); serr != nil {
		return "", errorf(http.StatusInternalServerError, "InternalFailure", "cannot verify the signature")
	}
	want, perr2 := parseAuthorization(resigned.Header.Get("Authorization"))
	if perr2 != nil || !hmac.Equal([]byte(want.signature), []byte(a.signature)) ||
		!slices.Equal(want.signedHeaders, a.signedHeaders) {
		return "", errorf(http.StatusForbidden, "SignatureDoesNotMatch", msgSignatureMismatch)
	}
	return a.region, nil
}
