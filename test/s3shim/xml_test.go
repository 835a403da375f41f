package s3shim

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name      string
		normalize func([]byte) ([]byte, error)
		in        string
		want      []string // substrings of the stored document
		wantErr   string   // "malformed", "invalid" or ""
	}{
		{
			name:      "encryption AES256 gets BucketKeyEnabled false",
			normalize: normalizeEncryption,
			in: `<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>` +
				`<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>` +
				`</Rule></ServerSideEncryptionConfiguration>`,
			want: []string{
				`<?xml version="1.0" encoding="UTF-8"?>`,
				`<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>`,
				`<SSEAlgorithm>AES256</SSEAlgorithm>`,
				`<BucketKeyEnabled>false</BucketKeyEnabled>`,
			},
		},
		{
			name:      "encryption KMS keeps key and bucket key",
			normalize: normalizeEncryption,
			in: `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>` +
				`<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:us-east-1:1:key/k</KMSMasterKeyID>` +
				`</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`,
			want: []string{
				`<KMSMasterKeyID>arn:aws:kms:us-east-1:1:key/k</KMSMasterKeyID>`,
				`<BucketKeyEnabled>true</BucketKeyEnabled>`,
			},
		},
		{
			name:      "encryption unknown algorithm",
			normalize: normalizeEncryption,
			in:        `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>rot13</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`,
			wantErr:   "invalid",
		},
		{
			name:      "encryption key with AES256",
			normalize: normalizeEncryption,
			in:        `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`,
			wantErr:   "invalid",
		},
		{
			name:      "encryption without rules",
			normalize: normalizeEncryption,
			in:        `<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>`,
			wantErr:   "malformed",
		},
		{
			name:      "encryption wrong root element",
			normalize: normalizeEncryption,
			in:        `<LifecycleConfiguration><Rule><Status>Enabled</Status></Rule></LifecycleConfiguration>`,
			wantErr:   "malformed",
		},
		{
			name:      "public access block fills unset booleans",
			normalize: normalizePublicAccessBlock,
			in:        `<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`,
			want: []string{
				`<BlockPublicAcls>true</BlockPublicAcls>`,
				`<IgnorePublicAcls>false</IgnorePublicAcls>`,
				`<BlockPublicPolicy>false</BlockPublicPolicy>`,
				`<RestrictPublicBuckets>true</RestrictPublicBuckets>`,
			},
		},
		{
			name:      "public access block not XML",
			normalize: normalizePublicAccessBlock,
			in:        `{"BlockPublicAcls": true}`,
			wantErr:   "malformed",
		},
		{
			name:      "lifecycle keeps every element",
			normalize: normalizeLifecycle,
			in: `<LifecycleConfiguration><Rule><ID>expire</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>` +
				`<Expiration><Days>30</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration>` +
				`<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>` +
				`<Rule><ID>tags</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag></And></Filter>` +
				`<Status>Disabled</Status><Transition><Days>90</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>`,
			want: []string{
				`<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`,
				`<Rule><ID>expire</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration>`,
				`<NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration>`,
				`<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
				`<And><Prefix>logs/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag></And>`,
				`<Transition><Days>90</Days><StorageClass>GLACIER</StorageClass></Transition>`,
			},
		},
		{
			name:      "lifecycle bad status",
			normalize: normalizeLifecycle,
			in:        `<LifecycleConfiguration><Rule><ID>x</ID><Status>On</Status></Rule></LifecycleConfiguration>`,
			wantErr:   "malformed",
		},
		{
			name:      "lifecycle duplicate IDs",
			normalize: normalizeLifecycle,
			in:        `<LifecycleConfiguration><Rule><ID>x</ID><Status>Enabled</Status></Rule><Rule><ID>x</ID><Status>Enabled</Status></Rule></LifecycleConfiguration>`,
			wantErr:   "invalid",
		},
		{
			name:      "lifecycle without rules",
			normalize: normalizeLifecycle,
			in:        `<LifecycleConfiguration/>`,
			wantErr:   "malformed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.normalize([]byte(tt.in))
			var invalid *invalidArgumentError
			switch tt.wantErr {
			case "malformed":
				if !errors.Is(err, errMalformed) {
					t.Fatalf("err = %v; want MalformedXML", err)
				}
				return
			case "invalid":
				if !errors.As(err, &invalid) {
					t.Fatalf("err = %v; want InvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("document lacks %s:\n%s", w, got)
				}
			}
		})
	}
}

func TestDecodeAWSChunked(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "signed chunks", in: "5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=0\r\n\r\n", want: "hello world"},
		{name: "unsigned with trailer", in: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:abc=\r\n\r\n", want: "hello world"},
		{name: "bad size", in: "zz\r\nhello\r\n", wantErr: true},
		{name: "truncated", in: "10\r\nhello", wantErr: true},
		{name: "missing CRLF", in: "5\r\nhelloX0\r\n\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAWSChunked([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v; want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != tt.want {
				t.Fatalf("decoded %q; want %q", got, tt.want)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		target     string
		bucket     string
		isBucket   bool
		sub        string
		deleteOnly bool
	}{
		{target: "/b?encryption", bucket: "b", isBucket: true, sub: "encryption"},
		{target: "/b/?publicAccessBlock=", bucket: "b", isBucket: true, sub: "publicAccessBlock"},
		{target: "/b?lifecycle&x-id=GetBucketLifecycleConfiguration", bucket: "b", isBucket: true, sub: "lifecycle"},
		{target: "/b?encryption&lifecycle", bucket: "b", isBucket: true},
		{target: "/b?versioning", bucket: "b", isBucket: true},
		{target: "/b", bucket: "b", isBucket: true, deleteOnly: true},
		{target: "/b?x-id=DeleteBucket", bucket: "b", isBucket: true, deleteOnly: true},
		{target: "/b/key?encryption"},
		{target: "/?encryption"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.target)
		if err != nil {
			t.Fatal(err)
		}
		bucket, ok := bucketOf(u.Path)
		if bucket != tt.bucket || ok != tt.isBucket {
			t.Errorf("bucketOf(%q) = %q, %v; want %q, %v", u.Path, bucket, ok, tt.bucket, tt.isBucket)
		}
		sub := ""
		if s := subresourceOf(u.Query()); s != nil {
			sub = s.query
		}
		if ok && sub != tt.sub {
			t.Errorf("subresourceOf(%q) = %q; want %q", u.RawQuery, sub, tt.sub)
		}
		if ok && onlyOperationID(u.Query()) != tt.deleteOnly {
			t.Errorf("onlyOperationID(%q) = %v; want %v", u.RawQuery, !tt.deleteOnly, tt.deleteOnly)
		}
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		key     string
	}{
		{name: "no scheme", backend: "127.0.0.1:7070", key: "k"},
		{name: "path", backend: "http://127.0.0.1:7070/prefix", key: "k"},
		{name: "no credentials", backend: "http://127.0.0.1:7070"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(tt.backend)
			if _, err := New(u, tt.key, tt.key, ""); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	u, _ := url.Parse("http://127.0.0.1:7070/")
	s, err := New(u, "k", "s", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Backend().String(); got != "http://127.0.0.1:7070" {
		t.Errorf("Backend() = %s", got)
	}
}
