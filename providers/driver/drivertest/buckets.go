package drivertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Objects reaches the objects of a bucket through the provider's plain SDK.
type Objects interface {
	// Put writes an object: a new version of it in a versioned bucket. It
	// may be called from several goroutines at once.
	Put(ctx context.Context, bucket, key, body string) error
	// Remove deletes an object. In a versioned bucket its versions stay,
	// noncurrent (S3 adds a delete marker).
	Remove(t *testing.T, bucket, key string)
	// Versions returns the key of every object version, live or noncurrent,
	// and of every delete marker, sorted.
	Versions(t *testing.T, bucket string) []string
}

// BucketHarness is the harness of a Bucket driver.
type BucketHarness interface {
	Harness[*storagev1alpha1.Bucket]
	Objects
}

// RunBuckets runs Run and what every Bucket driver does on deletion: a
// bucket that holds objects, or only noncurrent versions of them, is not
// deleted (a Blocked error, nothing changed) unless spec.forceDestroy is
// set, and then every version goes first.
func RunBuckets(t *testing.T, h BucketHarness) {
	Run(t, h)
	s := bucketSuite{suite: suite[*storagev1alpha1.Bucket]{h: h}, objects: h}
	for _, b := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"a bucket that holds objects is not deleted", func(t *testing.T) {
			s.blocked(t, "blocked", storagev1alpha1.VersioningDisabled, func(name string) {
				s.put(t, name, "keep/me.txt", "precious")
			})
		}},
		{"a versioned bucket that holds only noncurrent versions is not deleted", func(t *testing.T) {
			s.blocked(t, "blocked-by-versions", storagev1alpha1.VersioningEnabled, func(name string) {
				s.put(t, name, "gone.txt", "v1")
				s.put(t, name, "gone.txt", "v2")
				h.Remove(t, name, "gone.txt")
			})
		}},
		{"forceDestroy deletes every version, then the bucket", s.forceDestroy},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.run(t)
		})
	}
}

type bucketSuite struct {
	suite[*storagev1alpha1.Bucket]
	objects Objects
}

// put puts an object, failing the test on error.
func (s bucketSuite) put(t *testing.T, bucket, key, body string) {
	t.Helper()
	if err := s.objects.Put(t.Context(), bucket, key, body); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// blocked creates a bucket, fills it, and checks that Delete changes
// nothing and says how to proceed.
func (s bucketSuite) blocked(t *testing.T, name string, versioning storagev1alpha1.Versioning, fill func(bucket string)) {
	h, o := s.h, s.objects
	c := s.connect(t)
	b := h.New(namePrefix + name)
	b.Spec.Versioning = versioning
	req := h.Request(b)
	if _, err := c.Create(t.Context(), req); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	fill(req.ExternalName)
	before := o.Versions(t, req.ExternalName)
	if len(before) == 0 {
		t.Fatal("the bucket holds no object version after it was filled")
	}
	req.Purpose = driver.PurposeDelete
	res, err := c.Delete(t.Context(), req)
	if !driver.IsBlocked(err) || res.Gone {
		t.Fatalf("Delete(...) = %+v, %v; want a Blocked error", res, err)
	}
	if want := "set spec.forceDestroy to true"; !strings.Contains(err.Error(), want) {
		t.Errorf("Delete(...) = %q; want it to say %q", err, want)
	}
	if !h.Read(t, req.ExternalName).Exists {
		t.Fatal("the bucket is gone after a blocked Delete")
	}
	if diff := cmp.Diff(before, o.Versions(t, req.ExternalName)); diff != "" {
		t.Errorf("object versions after a blocked Delete: -before, +after:\n%s", diff)
	}
}

func (s bucketSuite) forceDestroy(t *testing.T) {
	h := s.h
	c := s.connect(t)
	b := h.New(namePrefix + "force-destroy")
	b.Spec.Versioning = storagev1alpha1.VersioningEnabled
	b.Spec.ForceDestroy = true
	req := h.Request(b)
	if _, err := c.Create(t.Context(), req); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	for i := range 3 {
		s.put(t, req.ExternalName, "a.txt", fmt.Sprint("version ", i))
		s.put(t, req.ExternalName, fmt.Sprintf("dir/%d.txt", i), "x")
	}
	s.objects.Remove(t, req.ExternalName, "dir/0.txt")
	req.Purpose = driver.PurposeDelete
	res, err := c.Delete(t.Context(), req)
	if err != nil {
		t.Fatalf("Delete(...) with forceDestroy: %v", err)
	}
	if got := h.Read(t, req.ExternalName); got.Exists || !res.Gone {
		t.Errorf("Delete(...) with forceDestroy = %+v; the bucket exists: %t; want it gone", res, got.Exists)
	}
}

// PutMany puts n small objects named many/00000, many/00001, ... in a
// bucket, a few at a time, failing the test on the first error.
func PutMany(t *testing.T, o Objects, bucket string, n int) {
	t.Helper()
	var (
		wg     sync.WaitGroup
		next   atomic.Int64
		failed atomic.Value
	)
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if err := o.Put(t.Context(), bucket, fmt.Sprintf("many/%05d", i), "x"); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		t.Fatalf("put objects in %s: %v", bucket, err)
	}
}
