package aws

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// isolateFromEnvironment keeps the machine's AWS configuration out of a test.
func isolateFromEnvironment(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE":                 "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_ROLE_ARN":                "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

func TestAWSConfig(t *testing.T) {
	isolateFromEnvironment(t)
	httpClient := &http.Client{}

	type want struct {
		Region       string
		BaseEndpoint string
		Credentials  aws.Credentials
		SameClient   bool
		Err          string // a substring of the error
		ErrKind      string
	}
	cases := map[string]struct {
		reason string
		env    map[string]string
		cfg    driver.Config
		want   want
	}{
		"SecretDefaults": {
			reason: "Credentials come from the Secret's keys; the region defaults to us-east-1.",
			cfg: driver.Config{
				Spec:        stratusv1alpha1.ProviderConfigSpec{Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret}},
				Credentials: map[string][]byte{"aws_access_key_id": []byte("AKID"), "aws_secret_access_key": []byte("SECRET")},
			},
			want: want{Region: "us-east-1", SameClient: true, Credentials: aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}},
		},
		"SecretWithSessionTokenRegionAndEndpoint": {
			reason: "The session token is optional; region and endpoint come from the spec.",
			cfg: driver.Config{
				Spec: stratusv1alpha1.ProviderConfigSpec{
					Region:      "eu-central-1",
					Endpoint:    "http://127.0.0.1:7070",
					Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret},
				},
				Credentials: map[string][]byte{"aws_access_key_id": []byte("AKID"), "aws_secret_access_key": []byte("SECRET"), "aws_session_token": []byte("TOKEN")},
			},
			want: want{Region: "eu-central-1", BaseEndpoint: "http://127.0.0.1:7070", SameClient: true,
				Credentials: aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: "TOKEN"}},
		},
		"SecretWithoutSecretKey": {
			reason: "A Secret without the secret key fails with an error naming the key and no value.",
			cfg: driver.Config{
				Spec:        stratusv1alpha1.ProviderConfigSpec{Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret}},
				Credentials: map[string][]byte{"aws_access_key_id": []byte("AKIDVALUE")},
			},
			want: want{Err: `no key "aws_secret_access_key"`, ErrKind: "BadCredentials"},
		},
		"SecretWithEmptyAccessKey": {
			reason: "An empty value counts as missing.",
			cfg: driver.Config{
				Spec:        stratusv1alpha1.ProviderConfigSpec{Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret}},
				Credentials: map[string][]byte{"aws_access_key_id": {}, "aws_secret_access_key": []byte("SECRETVALUE")},
			},
			want: want{Err: `no key "aws_access_key_id"`, ErrKind: "BadCredentials"},
		},
		"Ambient": {
			reason: "Ambient credentials come from the SDK's default chain, here the environment.",
			env:    map[string]string{"AWS_ACCESS_KEY_ID": "ENVAKID", "AWS_SECRET_ACCESS_KEY": "ENVSECRET"},
			cfg: driver.Config{
				Spec: stratusv1alpha1.ProviderConfigSpec{Region: "us-west-2", Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient}},
			},
			want: want{Region: "us-west-2", SameClient: true, Credentials: aws.Credentials{AccessKeyID: "ENVAKID", SecretAccessKey: "ENVSECRET"}},
		},
		"UnknownSource": {
			reason: "A credentials source the driver does not know is terminal.",
			cfg:    driver.Config{Spec: stratusv1alpha1.ProviderConfigSpec{Credentials: stratusv1alpha1.Credentials{Source: "Vault"}}},
			want:   want{Err: `unsupported credentials source "Vault"`, ErrKind: "Terminal"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			ac, err := awsConfig(ctx, tc.cfg, httpClient)
			var got want
			if err != nil {
				got.Err, got.ErrKind = err.Error(), kind(err)
				if tc.want.Err != "" && strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
				for _, v := range tc.cfg.Credentials {
					if len(v) > 0 && strings.Contains(err.Error(), string(v)) {
						t.Errorf("%s\nthe error %q holds a credential", tc.reason, err)
					}
				}
			} else {
				creds, rerr := ac.Credentials.Retrieve(ctx)
				if rerr != nil {
					t.Fatalf("%s\nRetrieve(): %v", tc.reason, rerr)
				}
				got = want{
					Region:       ac.Region,
					BaseEndpoint: aws.ToString(ac.BaseEndpoint),
					Credentials:  aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken},
					SameClient:   ac.HTTPClient == httpClient,
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nawsConfig(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	c := &http.Client{}
	cases := map[string]struct {
		reason string
		opts   []Option
		want   options
	}{
		"Defaults":      {reason: "Without options the SDK's client and DefaultMaxAttempts are used.", want: options{maxAttempts: DefaultMaxAttempts}},
		"HTTPClient":    {reason: "WithHTTPClient sets the client.", opts: []Option{WithHTTPClient(c)}, want: options{httpClient: c, maxAttempts: DefaultMaxAttempts}},
		"MaxAttempts":   {reason: "WithMaxAttempts sets the attempts.", opts: []Option{WithMaxAttempts(1)}, want: options{maxAttempts: 1}},
		"BadAttempts":   {reason: "WithMaxAttempts ignores values below 1.", opts: []Option{WithMaxAttempts(0)}, want: options{maxAttempts: DefaultMaxAttempts}},
		"LastOneCounts": {reason: "A later option overrides an earlier one.", opts: []Option{WithMaxAttempts(2), WithMaxAttempts(5)}, want: options{maxAttempts: 5}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := newOptions(tc.opts)
			if got.httpClient != tc.want.httpClient || got.maxAttempts != tc.want.maxAttempts {
				t.Errorf("%s\nnewOptions(...) = %+v; want %+v", tc.reason, got, tc.want)
			}
		})
	}
}
