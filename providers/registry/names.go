package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxNameLength is the longest bucket or database name most clouds accept.
const maxNameLength = 63

// hashLength is the length of the hash suffix of a shortened name.
const hashLength = 8

// BucketName is the deterministic bucket name of a Bucket without
// spec.bucketName: "<namespace>-<name>", shortened with a hash suffix when
// too long. Kubernetes names are lowercase DNS labels or subdomains, so the
// result is a valid S3 and Cloud Storage bucket name.
func BucketName(namespace, name string) string {
	return shorten(strings.ToLower(namespace+"-"+name), namespace+"/"+name, "-")
}

// DatabaseName is the deterministic database name of a Database without
// spec.databaseName: "<namespace>_<name>" with '-' and '.' made '_',
// shortened with a hash suffix when too long.
func DatabaseName(namespace, name string) string {
	n := strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(namespace + "_" + name))
	return shorten(n, namespace+"/"+name, "_")
}

// shorten cuts name to maxNameLength, replacing its tail with a hash of key
// so that distinct objects keep distinct names.
func shorten(name, key, sep string) string {
	if len(name) <= maxNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(key))
	head := strings.TrimRight(name[:maxNameLength-hashLength-len(sep)], "-._")
	return head + sep + hex.EncodeToString(sum[:])[:hashLength]
}
