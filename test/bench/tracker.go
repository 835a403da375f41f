package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// bucketTracker watches the Buckets of one namespace and notes, by name, when it
// first saw each Ready, when it saw each deleted, and when it first saw each
// report drift. One watch serves every wait, where polling lists of
// thousands of objects would load the API server being measured.
type bucketTracker struct {
	mu      sync.Mutex
	ready   map[string]time.Time
	gone    map[string]time.Time
	drift   map[string]time.Time
	present map[string]bool
}

// startBucketTracker starts watching the Buckets of namespace until ctx ends, and
// returns once the watch has listed them.
func startBucketTracker(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, namespace string) (*bucketTracker, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		return nil, fmt.Errorf("create the Bucket cache: %w", err)
	}
	t := &bucketTracker{ready: map[string]time.Time{}, gone: map[string]time.Time{}, drift: map[string]time.Time{}, present: map[string]bool{}}
	inf, err := c.GetInformer(ctx, &storagev1alpha1.Bucket{})
	if err != nil {
		return nil, fmt.Errorf("watch Buckets: %w", err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.seen(obj) },
		UpdateFunc: func(_, obj any) { t.seen(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if b, ok := obj.(*storagev1alpha1.Bucket); ok {
				t.mu.Lock()
				defer t.mu.Unlock()
				delete(t.present, b.Name)
				t.gone[b.Name] = time.Now()
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("watch Buckets: %w", err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("watch Buckets: the cache did not sync: %w", ctx.Err())
	}
	return t, nil
}

// seen notes the state of a Bucket from the watch.
func (t *bucketTracker) seen(obj any) {
	b, ok := obj.(*storagev1alpha1.Bucket)
	if !ok {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.present[b.Name] = true
	if _, ok := t.ready[b.Name]; !ok && meta.IsStatusConditionTrue(b.Status.Conditions, stratusv1alpha1.ConditionReady) {
		t.ready[b.Name] = now
	}
	if _, ok := t.drift[b.Name]; !ok && b.Status.LastDriftTime != nil {
		t.drift[b.Name] = now
	}
}

// count returns how many Buckets exist in the namespace.
func (t *bucketTracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.present)
}

// wait waits until when returns a time for every name, logging progress
// every 10 s, and returns the latest of those times. It gives up after
// timeout.
func (t *bucketTracker) wait(ctx context.Context, what string, names []string, timeout time.Duration, logf func(string, ...any), when func(name string) (time.Time, bool)) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	nextLog := time.Now().Add(10 * time.Second)
	var latest time.Time
	i := 0
	for {
		t.mu.Lock()
		for ; i < len(names); i++ {
			at, ok := when(names[i])
			if !ok {
				break
			}
			if at.After(latest) {
				latest = at
			}
		}
		t.mu.Unlock()
		if i == len(names) {
			return latest, nil
		}
		if now := time.Now(); now.After(deadline) {
			return latest, fmt.Errorf("%d of %d Buckets %s within %s; the first missing is %s", i, len(names), what, timeout, names[i])
		} else if now.After(nextLog) {
			logf("scale: %d of %d Buckets %s", i, len(names), what)
			nextLog = now.Add(10 * time.Second)
		}
		select {
		case <-ctx.Done():
			return latest, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitReady waits until every named Bucket has been seen Ready, and returns
// when the last one was.
func (t *bucketTracker) waitReady(ctx context.Context, names []string, timeout time.Duration, logf func(string, ...any)) (time.Time, error) {
	return t.wait(ctx, "Ready", names, timeout, logf, func(n string) (time.Time, bool) {
		at, ok := t.ready[n]
		return at, ok
	})
}

// waitGone waits until every named Bucket has been deleted, and returns
// when the last one was.
func (t *bucketTracker) waitGone(ctx context.Context, names []string, timeout time.Duration, logf func(string, ...any)) (time.Time, error) {
	return t.wait(ctx, "deleted", names, timeout, logf, func(n string) (time.Time, bool) {
		if t.present[n] {
			return time.Time{}, false
		}
		at, ok := t.gone[n]
		if !ok {
			at = time.Now() // never seen: already gone
		}
		return at, true
	})
}

// waitDrift waits until the named Bucket reports drift, and returns when it
// was first seen doing so.
func (t *bucketTracker) waitDrift(ctx context.Context, name string, timeout time.Duration, logf func(string, ...any)) (time.Time, error) {
	return t.wait(ctx, "reporting drift", []string{name}, timeout, logf, func(n string) (time.Time, bool) {
		at, ok := t.drift[n]
		return at, ok
	})
}
