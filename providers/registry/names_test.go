package registry

import (
	"regexp"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	bucketRE := regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	databaseRE := regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	long := strings.Repeat("a", 60)
	cases := []struct {
		reason          string
		namespace, name string
		wantBucket      string
		wantDatabase    string
	}{
		{reason: "short names are joined, with a hash of namespace and name", namespace: "team-a", name: "logs", wantBucket: "team-a-logs-deb55dfc", wantDatabase: "team_a_logs_deb55dfc"},
		{reason: "names that join alike get other hashes", namespace: "team", name: "a-logs"},
		{reason: "dots become '-' in bucket names and '_' in database names", namespace: "prod", name: "app.v1", wantBucket: "prod-app-v1-c7314a13", wantDatabase: "prod_app_v1_c7314a13"},
		{reason: "a name that joins alike with dots gets another hash", namespace: "prod", name: "app-v1"},
		{reason: "long names are shortened with a hash", namespace: "ns", name: long},
		{reason: "another long name gets another hash", namespace: "ns", name: long + "b"},
	}
	seenBuckets, seenDatabases := map[string]string{}, map[string]string{}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			b, d := BucketName(tc.namespace, tc.name), DatabaseName(tc.namespace, tc.name)
			if tc.wantBucket != "" && b != tc.wantBucket {
				t.Errorf("BucketName(%q, %q) = %q, want %q", tc.namespace, tc.name, b, tc.wantBucket)
			}
			if tc.wantDatabase != "" && d != tc.wantDatabase {
				t.Errorf("DatabaseName(%q, %q) = %q, want %q", tc.namespace, tc.name, d, tc.wantDatabase)
			}
			if !bucketRE.MatchString(b) {
				t.Errorf("BucketName(%q, %q) = %q is not a valid bucket name", tc.namespace, tc.name, b)
			}
			if !databaseRE.MatchString(d) {
				t.Errorf("DatabaseName(%q, %q) = %q is not a valid database name", tc.namespace, tc.name, d)
			}
			if other, ok := seenBuckets[b]; ok {
				t.Errorf("BucketName gives %q for both %s and %s/%s", b, other, tc.namespace, tc.name)
			}
			if other, ok := seenDatabases[d]; ok {
				t.Errorf("DatabaseName gives %q for both %s and %s/%s", d, other, tc.namespace, tc.name)
			}
			seenBuckets[b], seenDatabases[d] = tc.namespace+"/"+tc.name, tc.namespace+"/"+tc.name
			if BucketName(tc.namespace, tc.name) != b || DatabaseName(tc.namespace, tc.name) != d {
				t.Errorf("names of %s/%s are not deterministic", tc.namespace, tc.name)
			}
		})
	}
}
