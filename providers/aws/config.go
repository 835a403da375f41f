package aws

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// DefaultRegion is the region used when neither the resource nor the provider
// configuration names one.
const DefaultRegion = "us-east-1"

// DefaultMaxAttempts is how many times the SDK tries a call, the first
// attempt included, before it returns the error to the reconciler, which then
// retries with its own backoff.
const DefaultMaxAttempts = 3

// The keys of a credentials Secret.
const (
	KeyAccessKeyID     = "aws_access_key_id"
	KeySecretAccessKey = "aws_secret_access_key"
	KeySessionToken    = "aws_session_token"
)

// options configure the drivers of this package.
type options struct {
	httpClient  *http.Client
	maxAttempts int
}

// Option configures a driver.
type Option func(*options)

// WithHTTPClient makes the driver send every cloud request with c, so that the
// caller can count, trace or rate-limit them in its transport. Without it the
// SDK's default client is used.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// WithMaxAttempts sets how many times the SDK tries a call, the first attempt
// included; 1 disables the SDK's retries. Values below 1 are ignored. The
// default is DefaultMaxAttempts.
func WithMaxAttempts(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.maxAttempts = n
		}
	}
}

func newOptions(opts []Option) options {
	o := options{maxAttempts: DefaultMaxAttempts}
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// awsConfig builds the SDK configuration for a provider configuration: its
// region (DefaultRegion when it names none), its credentials, its endpoint
// (as BaseEndpoint; S3 clients must add path-style addressing themselves),
// the middleware that counts calls (addCallMetrics) and, when not nil, the
// HTTP client. extra load options are applied last.
// Credentials from a Secret are never put in an error.
// It is shared by every AWS service and makes no network call.
func awsConfig(ctx context.Context, cfg driver.Config, httpClient *http.Client, extra ...func(*config.LoadOptions) error) (aws.Config, error) {
	region := cfg.Spec.Region
	if region == "" {
		region = DefaultRegion
	}
	load := []func(*config.LoadOptions) error{config.WithRegion(region)}

	switch src := cfg.Spec.Credentials.Source; src {
	case stratusv1alpha1.CredentialsSourceSecret:
		creds, err := staticCredentials(cfg.Credentials)
		if err != nil {
			return aws.Config{}, err
		}
		load = append(load, config.WithCredentialsProvider(creds))
	case stratusv1alpha1.CredentialsSourceAmbient:
		// The SDK's default chain: environment, web identity (IRSA), shared
		// files, container and instance roles.
	default:
		return aws.Config{}, driver.Terminalf("unsupported credentials source %q: use %s or %s",
			src, stratusv1alpha1.CredentialsSourceSecret, stratusv1alpha1.CredentialsSourceAmbient)
	}
	if cfg.Spec.Endpoint != "" {
		load = append(load, config.WithBaseEndpoint(cfg.Spec.Endpoint))
	}
	load = append(load, extra...)

	ac, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	// Every client built from the configuration counts its calls. Added
	// after loading, so the SDK's own credential clients (STS, IMDS) do not.
	ac.APIOptions = append(ac.APIOptions, addCallMetrics)
	if httpClient != nil {
		// Set after loading: the loader refuses a plain *http.Client when
		// AWS_CA_BUNDLE is set, since it cannot add the bundle to it. A
		// caller's client brings its own TLS configuration.
		ac.HTTPClient = httpClient
	}
	return ac, nil
}

// staticCredentials reads the keys of a credentials Secret. Its errors name
// the keys, never their values.
func staticCredentials(data map[string][]byte) (aws.CredentialsProvider, error) {
	for _, key := range []string{KeyAccessKeyID, KeySecretAccessKey} {
		if len(data[key]) == 0 {
			return nil, driver.BadCredentials(fmt.Errorf("the credentials Secret has no key %q (or it is empty): it needs %s and %s, and optionally %s",
				key, KeyAccessKeyID, KeySecretAccessKey, KeySessionToken))
		}
	}
	return credentials.NewStaticCredentialsProvider(
		string(data[KeyAccessKeyID]), string(data[KeySecretAccessKey]), string(data[KeySessionToken])), nil
}
