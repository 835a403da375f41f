package gcp

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/api/option"
	"google.golang.org/api/option/internaloption"
	htransport "google.golang.org/api/transport/http"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/apimetrics"
)

// The service label of the calls each API client makes.
const (
	serviceStorage  = "storage"
	serviceSQLAdmin = "sqladmin"
)

// withCallMetrics returns opts with an HTTP client that counts every request
// the Google API client sends in stratus_cloud_api_calls_total, as a call of
// service. The client is the one the API client would build for itself from
// opts and the API's defaults (authentication, endpoint selection), with its
// transport wrapped; since an API client given option.WithHTTPClient builds
// none, the API's defaults must be passed here, and the endpoint chosen from
// them is passed on.
//
// What counts as one call: each HTTP request the API client sends. The client
// libraries retry by sending the request again, so each attempt counts.
// Requests to the OAuth token endpoint are not counted; a request whose
// token could not be obtained counts as an error.
func withCallMetrics(ctx context.Context, service string, opts []option.ClientOption, defaults ...option.ClientOption) ([]option.ClientOption, error) {
	all := append(slices.Clip(opts), defaults...)
	hc, endpoint, err := htransport.NewClient(ctx, all...)
	if err != nil {
		return nil, err
	}
	counted := *hc
	counted.Transport = apimetrics.Transport(hc.Transport, stratusv1alpha1.ProviderGCP, service, func(r *http.Request) string {
		return apiOperation(r.Method, r.URL.EscapedPath())
	})
	return append(slices.Clip(opts), option.WithHTTPClient(&counted), option.WithEndpoint(endpoint)), nil
}

// apiCollections maps the collection segments of Cloud Storage and Cloud SQL
// Admin API paths to the resource names of their methods. "projects" is the
// parent of Cloud SQL's collections.
var apiCollections = map[string]string{
	"b":          "buckets",
	"o":          "objects",
	"projects":   "projects",
	"instances":  "instances",
	"operations": "operations",
	"databases":  "databases",
	"users":      "users",
	"sslCerts":   "sslCerts",
	"backupRuns": "backupRuns",
	"tiers":      "tiers",
	"flags":      "flags",
}

// apiVersions are the path segments after which a Google API path names its
// resources.
var apiVersions = map[string]bool{"v1": true, "v1beta4": true}

// customVerb is the shape of a custom method's name in a path, such as
// restart or lockRetentionPolicy.
var customVerb = regexp.MustCompile(`^[a-z][A-Za-z]{0,39}$`)

// apiOperation names the API method of a request to Cloud Storage's JSON API
// or the Cloud SQL Admin API from its HTTP method and escaped path: the
// resource of the last collection in the path and the method, such as
// buckets.get (GET .../b/NAME), buckets.insert (POST .../b), objects.list
// (GET .../b/NAME/o), instances.patch or operations.get, or a custom method
// after a resource, such as instances.restart. A path it does not know gives
// the HTTP method, so that the operation label takes only the API's own
// names, never a resource's.
func apiOperation(method, escapedPath string) string {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	start := slices.IndexFunc(segs, func(s string) bool { return apiVersions[s] })
	if start < 0 {
		return method
	}
	segs = segs[start+1:]
	resource, hasID := "", false
	for i := 0; i < len(segs); i += 2 {
		name, ok := apiCollections[segs[i]]
		if !ok {
			// A custom method after a resource: instances/NAME/restart.
			if !hasID || !customVerb.MatchString(segs[i]) {
				return method
			}
			return resource + "." + customMethod(method, segs[i:])
		}
		resource, hasID = name, i+1 < len(segs)
	}
	if resource == "" {
		return method
	}
	verb := collectionMethods[method]
	if hasID {
		verb = resourceMethods[method]
	}
	if verb == "" {
		return method
	}
	return resource + "." + verb
}

// collectionMethods name the methods on a collection (.../b) by HTTP method.
// Cloud SQL updates and deletes users on the collection, naming the user in
// the query.
var collectionMethods = map[string]string{
	http.MethodGet:    "list",
	http.MethodPost:   "insert",
	http.MethodPut:    "update",
	http.MethodPatch:  "patch",
	http.MethodDelete: "delete",
}

// resourceMethods name the methods on one resource (.../b/NAME) by HTTP
// method.
var resourceMethods = map[string]string{
	http.MethodGet:    "get",
	http.MethodPut:    "update",
	http.MethodPatch:  "patch",
	http.MethodDelete: "delete",
}

// customMethod names the custom method whose path starts with segs: its
// first segment, but for Cloud Storage's IAM policy methods.
func customMethod(method string, segs []string) string {
	if segs[0] != "iam" {
		return segs[0]
	}
	switch {
	case len(segs) > 1 && segs[1] == "testPermissions":
		return "testIamPermissions"
	case method == http.MethodPut:
		return "setIamPolicy"
	}
	return "getIamPolicy"
}

// storageDefaults are the options storage.NewClient adds to build its HTTP
// client: the endpoints and universe of Cloud Storage, or, when
// STORAGE_EMULATOR_HOST names an emulator, that emulator without
// authentication.
func storageDefaults() []option.ClientOption {
	if host := os.Getenv(storageEmulatorHostEnv); host != "" {
		u := &url.URL{Scheme: "http", Host: host}
		if strings.Contains(host, "://") {
			if parsed, err := url.Parse(host); err == nil {
				u = parsed
			}
		}
		u.Path = "storage/v1/"
		return []option.ClientOption{
			option.WithoutAuthentication(),
			internaloption.SkipDialSettingsValidation(),
			internaloption.WithDefaultEndpointTemplate(u.String()),
			internaloption.WithDefaultMTLSEndpoint(u.String()),
		}
	}
	return []option.ClientOption{
		internaloption.WithDefaultEndpointTemplate("https://storage.UNIVERSE_DOMAIN/storage/v1/"),
		internaloption.WithDefaultMTLSEndpoint("https://storage.mtls.googleapis.com/storage/v1/"),
		internaloption.WithDefaultUniverseDomain("googleapis.com"),
		internaloption.EnableNewAuthLibrary(),
	}
}

// storageEmulatorHostEnv names the Cloud Storage emulator the client library
// talks to instead of Cloud Storage, when set.
const storageEmulatorHostEnv = "STORAGE_EMULATOR_HOST"

// sqlAdminDefaults are the options sqladmin.NewService adds to build its
// HTTP client.
func sqlAdminDefaults() []option.ClientOption {
	return []option.ClientOption{
		internaloption.WithDefaultScopes(scopeCloudPlatform, "https://www.googleapis.com/auth/sqlservice.admin"),
		internaloption.WithDefaultEndpoint("https://sqladmin.googleapis.com/"),
		internaloption.WithDefaultEndpointTemplate("https://sqladmin.UNIVERSE_DOMAIN/"),
		internaloption.WithDefaultMTLSEndpoint("https://sqladmin.mtls.googleapis.com/"),
		internaloption.EnableNewAuthLibrary(),
	}
}
