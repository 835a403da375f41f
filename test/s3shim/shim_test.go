package s3shim_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/stratus-operator/stratus/test/servers"
)

// srv is the versitygw, with the shim in front, that every test shares.
var srv *servers.S3Server

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var err error
	srv, err = servers.StartS3(ctx, servers.S3Options{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func client(endpoint, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, secret, ""),
	})
}

var bucketSeq atomic.Int64

// newBucket creates a bucket through the shim and returns its name.
func newBucket(ctx context.Context, t *testing.T, c *s3.Client) string {
	t.Helper()
	name := fmt.Sprintf("shim-%d-%d", time.Now().UnixNano()%1e6, bucketSeq.Add(1))
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	return name
}

// wantCode fails unless err is an S3 API error with the given code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("%s: err = %v; want API error %s", what, err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("%s: error code %s (%v); want %s", what, apiErr.ErrorCode(), err, code)
	}
}

func TestEncryptionRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := client(srv.Endpoint, srv.SecretKey)
	tests := []struct {
		name string
		rule types.ServerSideEncryptionRule
		want types.ServerSideEncryptionRule // what S3 reports back
	}{
		{
			name: "SSE-S3",
			rule: types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
				SSEAlgorithm: types.ServerSideEncryptionAes256,
			}},
			want: types.ServerSideEncryptionRule{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256},
				BucketKeyEnabled:                   aws.Bool(false),
			},
		},
		{
			name: "SSE-KMS with a bucket key",
			rule: types.ServerSideEncryptionRule{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
					SSEAlgorithm:   types.ServerSideEncryptionAwsKms,
					KMSMasterKeyID: aws.String("arn:aws:kms:us-east-1:111122223333:key/1234abcd"),
				},
				BucketKeyEnabled: aws.Bool(true),
			},
			want: types.ServerSideEncryptionRule{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
					SSEAlgorithm:   types.ServerSideEncryptionAwsKms,
					KMSMasterKeyID: aws.String("arn:aws:kms:us-east-1:111122223333:key/1234abcd"),
				},
				BucketKeyEnabled: aws.Bool(true),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := newBucket(ctx, t, c)
			_, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
			wantCode(t, "GetBucketEncryption before Put", err, "ServerSideEncryptionConfigurationNotFoundError")

			if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
				Bucket:                            &bucket,
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{tt.rule}},
			}); err != nil {
				t.Fatalf("PutBucketEncryption: %v", err)
			}
			out, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
			if err != nil {
				t.Fatalf("GetBucketEncryption: %v", err)
			}
			if got := out.ServerSideEncryptionConfiguration.Rules; !reflect.DeepEqual(got, []types.ServerSideEncryptionRule{tt.want}) {
				t.Fatalf("GetBucketEncryption rules = %s; want %s", dump(got), dump([]types.ServerSideEncryptionRule{tt.want}))
			}

			if _, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: &bucket}); err != nil {
				t.Fatalf("DeleteBucketEncryption: %v", err)
			}
			_, err = c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
			wantCode(t, "GetBucketEncryption after Delete", err, "ServerSideEncryptionConfigurationNotFoundError")
		})
	}
}

func TestPublicAccessBlockRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := client(srv.Endpoint, srv.SecretKey)
	tests := []struct {
		name string
		cfg  types.PublicAccessBlockConfiguration
		want types.PublicAccessBlockConfiguration
	}{
		{
			name: "all blocked",
			cfg: types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
				BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
			},
			want: types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
				BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
			},
		},
		{
			name: "some set",
			cfg:  types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true), IgnorePublicAcls: aws.Bool(false)},
			want: types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(false), IgnorePublicAcls: aws.Bool(false),
				BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(false),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := newBucket(ctx, t, c)
			_, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
			wantCode(t, "GetPublicAccessBlock before Put", err, "NoSuchPublicAccessBlockConfiguration")

			cfg := tt.cfg
			if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &bucket, PublicAccessBlockConfiguration: &cfg}); err != nil {
				t.Fatalf("PutPublicAccessBlock: %v", err)
			}
			out, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
			if err != nil {
				t.Fatalf("GetPublicAccessBlock: %v", err)
			}
			if got := *out.PublicAccessBlockConfiguration; !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("GetPublicAccessBlock = %s; want %s", dump(got), dump(tt.want))
			}

			if _, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: &bucket}); err != nil {
				t.Fatalf("DeletePublicAccessBlock: %v", err)
			}
			_, err = c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
			wantCode(t, "GetPublicAccessBlock after Delete", err, "NoSuchPublicAccessBlockConfiguration")
		})
	}
}

func TestLifecycleRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := client(srv.Endpoint, srv.SecretKey)
	tests := []struct {
		name  string
		rules []types.LifecycleRule
	}{
		{
			name: "expiration, noncurrent expiration and aborted uploads",
			rules: []types.LifecycleRule{{
				ID:                             aws.String("expire-old"),
				Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("")},
				Status:                         types.ExpirationStatusEnabled,
				Expiration:                     &types.LifecycleExpiration{Days: aws.Int32(30)},
				NoncurrentVersionExpiration:    &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(7)},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)},
			}},
		},
		{
			name: "several rules with tags, sizes and transitions",
			rules: []types.LifecycleRule{
				{
					ID: aws.String("logs"),
					Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{
						Prefix:                aws.String("logs/"),
						Tags:                  []types.Tag{{Key: aws.String("tier"), Value: aws.String("cold")}, {Key: aws.String("team"), Value: aws.String("a")}},
						ObjectSizeGreaterThan: aws.Int64(1024),
					}},
					Status:      types.ExpirationStatusDisabled,
					Transitions: []types.Transition{{Days: aws.Int32(90), StorageClass: types.TransitionStorageClassGlacier}},
					NoncurrentVersionTransitions: []types.NoncurrentVersionTransition{
						{NoncurrentDays: aws.Int32(30), NewerNoncurrentVersions: aws.Int32(2), StorageClass: types.TransitionStorageClassStandardIa},
					},
				},
				{
					ID:         aws.String("markers"),
					Filter:     &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("k"), Value: aws.String("v")}},
					Status:     types.ExpirationStatusEnabled,
					Expiration: &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := newBucket(ctx, t, c)
			_, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &bucket})
			wantCode(t, "GetBucketLifecycleConfiguration before Put", err, "NoSuchLifecycleConfiguration")

			put, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
				Bucket:                 &bucket,
				LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: tt.rules},
			})
			if err != nil {
				t.Fatalf("PutBucketLifecycleConfiguration: %v", err)
			}
			if put.TransitionDefaultMinimumObjectSize != types.TransitionDefaultMinimumObjectSizeAllStorageClasses128k {
				t.Errorf("Put TransitionDefaultMinimumObjectSize = %q", put.TransitionDefaultMinimumObjectSize)
			}
			out, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &bucket})
			if err != nil {
				t.Fatalf("GetBucketLifecycleConfiguration: %v", err)
			}
			if !reflect.DeepEqual(out.Rules, tt.rules) {
				t.Fatalf("GetBucketLifecycleConfiguration rules =\n%s\nwant\n%s", dump(out.Rules), dump(tt.rules))
			}
			if out.TransitionDefaultMinimumObjectSize != types.TransitionDefaultMinimumObjectSizeAllStorageClasses128k {
				t.Errorf("Get TransitionDefaultMinimumObjectSize = %q", out.TransitionDefaultMinimumObjectSize)
			}

			if _, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: &bucket}); err != nil {
				t.Fatalf("DeleteBucketLifecycle: %v", err)
			}
			_, err = c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &bucket})
			wantCode(t, "GetBucketLifecycleConfiguration after Delete", err, "NoSuchLifecycleConfiguration")
		})
	}
}

func TestInvalidConfigurations(t *testing.T) {
	ctx := context.Background()
	c := client(srv.Endpoint, srv.SecretKey)
	bucket := newBucket(ctx, t, c)
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown SSE algorithm", func() error {
			_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &bucket,
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: "rot13"}}}}})
			return err
		}, "InvalidArgument"},
		{"KMS key with SSE-S3", func() error {
			_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &bucket,
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
						SSEAlgorithm: types.ServerSideEncryptionAes256, KMSMasterKeyID: aws.String("k")}}}}})
			return err
		}, "InvalidArgument"},
		{"lifecycle status", func() error {
			_, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &bucket,
				LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
					ID: aws.String("r"), Status: "On", Filter: &types.LifecycleRuleFilter{}}}}})
			return err
		}, "MalformedXML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.name, tt.call(), tt.code)
		})
	}
}

func TestMissingBucket(t *testing.T) {
	ctx := context.Background()
	c := client(srv.Endpoint, srv.SecretKey)
	b := aws.String("shim-no-such-bucket")
	tests := []struct {
		name string
		call func() error
	}{
		{"PutBucketEncryption", func() error {
			_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b,
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}})
			return err
		}},
		{"GetBucketEncryption", func() error {
			_, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
			return err
		}},
		{"DeleteBucketEncryption", func() error {
			_, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: b})
			return err
		}},
		{"PutPublicAccessBlock", func() error {
			_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b,
				PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)}})
			return err
		}},
		{"GetPublicAccessBlock", func() error {
			_, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
			return err
		}},
		{"DeletePublicAccessBlock", func() error {
			_, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b})
			return err
		}},
		{"PutBucketLifecycleConfiguration", func() error {
			_, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
				LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
					ID: aws.String("r"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{},
					Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}}}})
			return err
		}},
		{"GetBucketLifecycleConfiguration", func() error {
			_, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
			return err
		}},
		{"DeleteBucketLifecycle", func() error {
			_, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: b})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.name, tt.call(), "NoSuchBucket")
		})
	}
}

func TestDeleteBucketClearsState(t *testing.T) {
	ctx := context.Background()
	c := client(srv.Endpoint, srv.SecretKey)
	bucket := newBucket(ctx, t, c)
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &bucket,
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &bucket,
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}

	// A failed delete (the bucket is not empty) keeps the configuration.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("o"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
	wantCode(t, "DeleteBucket of a non-empty bucket", err, "BucketNotEmpty")
	if _, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket}); err != nil {
		t.Fatalf("GetBucketEncryption after a failed DeleteBucket: %v", err)
	}

	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("o")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("CreateBucket again: %v", err)
	}
	_, err = c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
	wantCode(t, "GetBucketEncryption of a re-created bucket", err, "ServerSideEncryptionConfigurationNotFoundError")
	_, err = c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
	wantCode(t, "GetPublicAccessBlock of a re-created bucket", err, "NoSuchPublicAccessBlockConfiguration")
}

func TestBackendAuthenticates(t *testing.T) {
	ctx := context.Background()
	bucket := newBucket(ctx, t, client(srv.Endpoint, srv.SecretKey))
	bad := client(srv.Endpoint, "not-the-secret")
	_, err := bad.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &bucket,
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}})
	wantCode(t, "PutBucketEncryption with a wrong secret", err, "SignatureDoesNotMatch")
	_, err = bad.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
	wantCode(t, "GetPublicAccessBlock with a wrong secret", err, "SignatureDoesNotMatch")
}

func TestPassThrough(t *testing.T) {
	ctx := context.Background()
	c := client(srv.Endpoint, srv.SecretKey)
	bucket := newBucket(ctx, t, c)

	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || !strings.HasPrefix(apiErr.ErrorCode(), "BucketAlready") {
		t.Errorf("second CreateBucket: %v; want BucketAlreadyOwnedByYou or BucketAlreadyExists", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err != nil {
		t.Errorf("HeadBucket: %v", err)
	}

	body := strings.Repeat("stratus ", 4096)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("a/b.txt"), Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil || string(got) != body {
		t.Fatalf("GetObject body: %d bytes, %v; want %d bytes", len(got), err, len(body))
	}

	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	if err != nil || v.Status != "" {
		t.Fatalf("GetBucketVersioning of a new bucket = %q, %v", v.Status, err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatalf("PutBucketVersioning: %v", err)
	}
	v, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	if err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("GetBucketVersioning = %q, %v; want Enabled", v.Status, err)
	}

	list, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	found := false
	for _, b := range list.Buckets {
		found = found || aws.ToString(b.Name) == bucket
	}
	if !found {
		t.Errorf("ListBuckets does not list %s", bucket)
	}

	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("missing")})
	wantCode(t, "GetObject of a missing key", err, "NoSuchKey")
}

// TestErrorDocument checks the raw wire format of errors, signing requests by
// hand as a non-SDK client would.
func TestErrorDocument(t *testing.T) {
	ctx := context.Background()
	bucket := newBucket(ctx, t, client(srv.Endpoint, srv.SecretKey))
	tests := []struct {
		name        string
		path        string
		sign        bool
		status      int
		contentType string
		want        []string
	}{
		{
			name: "anonymous request, refused by versitygw", path: "/" + bucket + "?encryption",
			status: http.StatusForbidden, want: []string{"<Code>AccessDenied</Code>"},
		},
		{
			// versitygw checks that the bucket exists before it answers 501,
			// so this answer is its own, relayed by the shim.
			name: "missing bucket", path: "/shim-no-such-bucket?lifecycle", sign: true,
			status: http.StatusNotFound, contentType: "application/xml",
			want: []string{"<Error><Code>NoSuchBucket</Code><Message>", "<BucketName>shim-no-such-bucket</BucketName><RequestId>"},
		},
		{
			name: "no configuration", path: "/" + bucket + "?publicAccessBlock", sign: true,
			status: http.StatusNotFound, contentType: "application/xml",
			want: []string{
				"<Error><Code>NoSuchPublicAccessBlockConfiguration</Code><Message>",
				"<BucketName>" + bucket + "</BucketName><RequestId>", "</RequestId></Error>",
			},
		},
	}
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.Endpoint+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.sign {
				req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
				creds := aws.Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
				if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "s3", srv.Region, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d; want %d; body %s", resp.StatusCode, tt.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); tt.contentType != "" && ct != tt.contentType {
				t.Errorf("Content-Type %q; want %q", ct, tt.contentType)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("body lacks %s: %s", w, b)
				}
			}
		})
	}
}

func dump(v any) string {
	return fmt.Sprintf("%+v", deref(reflect.ValueOf(v)))
}

// deref renders pointers as the values they point at, for readable failures.
func deref(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return deref(v.Elem())
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = deref(v.Index(i))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() && !v.Field(i).IsZero() {
				out[f.Name] = deref(v.Field(i))
			}
		}
		return out
	default:
		if v.CanInterface() {
			return v.Interface()
		}
		return v.String()
	}
}
