package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxNameLength is the longest bucket or database name most clouds accept.
const maxNameLength = 63

// hashLength is the length of the hash suffix of a generated name.
const hashLength = 8

// BucketName is the bucket name the operator generates for a Bucket without
// spec.bucketName: "<namespace>-<name>-<hash>", where the hash is of the
// namespace and name, so that objects whose joined names read alike
// ("team"/"a-logs" and "team-a"/"logs") never share a bucket. Dots become
// '-' (a dotted name is a domain to Cloud Storage), and the head is cut so
// the whole fits 63 characters: a valid S3 and Cloud Storage bucket name.
func BucketName(namespace, name string) string {
	n := strings.ReplaceAll(strings.ToLower(namespace+"-"+name), ".", "-")
	return withHash(n, namespace, name, "-")
}

// DatabaseName is the database name the operator generates for a Database
// without spec.databaseName: "<namespace>_<name>_<hash>" with '-' and '.'
// made '_', unique per object like BucketName, within 63 characters.
func DatabaseName(namespace, name string) string {
	n := strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(namespace + "_" + name))
	return withHash(n, namespace, name, "_")
}

// withHash cuts name so that sep and a hash of namespace and name fit
// maxNameLength, and appends them.
func withHash(name, namespace, objectName, sep string) string {
	sum := sha256.Sum256([]byte(namespace + "/" + objectName))
	if max := maxNameLength - hashLength - len(sep); len(name) > max {
		name = name[:max]
	}
	return strings.TrimRight(name, "-._") + sep + hex.EncodeToString(sum[:])[:hashLength]
}
