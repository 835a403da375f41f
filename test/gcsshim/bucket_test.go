package gcsshim

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoute(t *testing.T) {
	type result struct {
		Bucket                 string
		IsBucket, IsCollection bool
	}
	cases := map[string]struct {
		reason string
		path   string
		want   result
	}{
		"Collection":      {reason: "The bucket collection.", path: "/storage/v1/b", want: result{IsCollection: true}},
		"CollectionSlash": {reason: "The bucket collection with a trailing slash.", path: "/storage/v1/b/", want: result{IsCollection: true}},
		"Bucket":          {reason: "One bucket.", path: "/storage/v1/b/my-bucket", want: result{Bucket: "my-bucket", IsBucket: true}},
		"EscapedBucket":   {reason: "A bucket name is unescaped.", path: "/storage/v1/b/my%2Ebucket", want: result{Bucket: "my.bucket", IsBucket: true}},
		"Objects":         {reason: "The objects of a bucket are not the bucket.", path: "/storage/v1/b/my-bucket/o"},
		"Object":          {reason: "An object is not the bucket.", path: "/storage/v1/b/my-bucket/o/key"},
		"Upload":          {reason: "An upload is not the bucket.", path: "/upload/storage/v1/b/my-bucket/o"},
		"XMLAPI":          {reason: "An XML API path is not the bucket.", path: "/my-bucket/key"},
		"OtherPrefix":     {reason: "A path that merely starts like the collection is not it.", path: "/storage/v1/batch"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got result
			got.Bucket, got.IsBucket, got.IsCollection = route(tc.path)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nroute(%q): -want, +got:\n%s", tc.reason, tc.path, diff)
			}
		})
	}
}

type acceptAll struct{}

func (acceptAll) Valid(string) bool { return true }

func TestNewValidates(t *testing.T) {
	cases := map[string]struct {
		reason  string
		backend string
		tokens  TokenValidator
		wantErr string
	}{
		"Good":     {reason: "An http URL and a validator make a shim.", backend: "http://127.0.0.1:4443", tokens: acceptAll{}},
		"NoScheme": {reason: "The backend needs a scheme.", backend: "127.0.0.1:4443", tokens: acceptAll{}, wantErr: "backend must be"},
		"Path":     {reason: "The backend must have no path.", backend: "http://127.0.0.1:4443/storage/v1", tokens: acceptAll{}, wantErr: "must not have a path"},
		"NoTokens": {reason: "A shim without a token validator would let anyone in.", backend: "http://127.0.0.1:4443", wantErr: "token validator"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u, _ := url.Parse(tc.backend)
			_, err := New(u, tc.tokens)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("%s\nNew(%q): %v; want an error with %q", tc.reason, tc.backend, err, tc.wantErr)
			}
		})
	}
}

func TestValidateLabel(t *testing.T) {
	cases := map[string]struct {
		reason     string
		key, value string
		wantErr    bool
	}{
		"Plain":           {reason: "Lowercase letters, digits, dashes and underscores.", key: "env_1-a", value: "prod-2_b"},
		"EmptyValue":      {reason: "A value may be empty.", key: "flag", value: ""},
		"International":   {reason: "International lowercase letters are allowed.", key: "équipe", value: "données"},
		"Max":             {reason: "63 characters is the limit.", key: "k" + strings.Repeat("x", 62), value: strings.Repeat("y", 63)},
		"EmptyKey":        {reason: "A key may not be empty.", key: "", value: "v", wantErr: true},
		"UpperKey":        {reason: "Uppercase is refused in keys.", key: "Env", value: "v", wantErr: true},
		"UpperValue":      {reason: "Uppercase is refused in values.", key: "env", value: "Prod", wantErr: true},
		"DigitFirst":      {reason: "A key starts with a letter.", key: "1env", value: "v", wantErr: true},
		"LongKey":         {reason: "Keys are at most 63 characters.", key: "k" + strings.Repeat("x", 63), value: "v", wantErr: true},
		"LongValue":       {reason: "Values are at most 63 characters.", key: "k", value: strings.Repeat("y", 64), wantErr: true},
		"DotInValue":      {reason: "Dots are refused.", key: "k", value: "a.b", wantErr: true},
		"SlashInKey":      {reason: "Slashes are refused.", key: "a/b", value: "v", wantErr: true},
		"SpaceInValue":    {reason: "Spaces are refused.", key: "k", value: "a b", wantErr: true},
		"UnderscoreFirst": {reason: "A key starts with a letter, not an underscore.", key: "_k", value: "v", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := validateLabel(tc.key, tc.value)
			if (err != nil) != tc.wantErr {
				t.Errorf("%s\nvalidateLabel(%q, %q) = %v; want error %v", tc.reason, tc.key, tc.value, err, tc.wantErr)
			}
		})
	}
}
