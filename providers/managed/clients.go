package managed

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stratus-operator/stratus/providers/driver"
)

// failedConnectTTL is how long a failed connect is remembered: the objects
// that use the same configuration get its error at once instead of each
// waiting on a host that does not answer.
const failedConnectTTL = 15 * time.Second

// clientCache keeps one connected driver client per provider configuration
// and reconnects when the configuration or its credentials change. Each
// configuration has its own entry and lock: connecting for one (a host that
// never answers) never holds up reconciles that use another.
type clientCache[T driver.Managed] struct {
	now func() time.Time

	mu      sync.Mutex // guards entries, never held while connecting
	entries map[string]*clientEntry[T]
}

// clientEntry is one configuration's client. Its lock (a one-slot
// semaphore, so that waiting for it can end with a context) is held while
// connecting, so that many objects reconciled at once share one connect.
type clientEntry[T driver.Managed] struct {
	lock     chan struct{}
	version  string
	client   driver.Client[T]
	err      error // the last connect's error, for version
	failedAt time.Time
}

func newClientCache[T driver.Managed]() *clientCache[T] {
	return &clientCache[T]{now: time.Now, entries: map[string]*clientEntry[T]{}}
}

// entry returns the entry of a configuration, creating it.
func (c *clientCache[T]) entry(key string) *clientEntry[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		e = &clientEntry[T]{lock: make(chan struct{}, 1)}
		c.entries[key] = e
	}
	return e
}

// get returns the client for rc, connecting with drv when there is none for
// this version of the configuration. A connect that failed less than
// failedConnectTTL ago for the same version is not tried again: its error
// is returned. Waiting for another reconcile's connect ends with ctx.
func (c *clientCache[T]) get(ctx context.Context, drv driver.Driver[T], rc resolvedConfig) (driver.Client[T], error) {
	e := c.entry(rc.key)
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for another connect with %s: %w", rc.key, ctx.Err())
	}
	defer func() { <-e.lock }()
	if e.version == rc.version {
		if e.client != nil {
			return e.client, nil
		}
		if e.err != nil && c.now().Sub(e.failedAt) < failedConnectTTL {
			return nil, fmt.Errorf("%w (a connect failed %s ago; retried after %s)", e.err, c.now().Sub(e.failedAt).Round(time.Second), failedConnectTTL)
		}
	}
	cl, err := drv.Connect(ctx, rc.Config)
	e.close()
	e.version = rc.version
	if err != nil {
		e.err, e.failedAt = err, c.now()
		return nil, err
	}
	e.client, e.err = cl, nil
	return cl, nil
}

// forget closes and drops the client of a configuration, and any failed
// connect remembered for it.
func (c *clientCache[T]) forget(key string) {
	c.mu.Lock()
	e, ok := c.entries[key]
	delete(c.entries, key)
	c.mu.Unlock()
	if !ok {
		return
	}
	e.lock <- struct{}{}
	defer func() { <-e.lock }()
	e.close()
}

// close closes the entry's client; its lock is held.
func (e *clientEntry[T]) close() {
	if closer, ok := e.client.(io.Closer); ok {
		_ = closer.Close()
	}
	e.client, e.err, e.version = nil, nil, ""
}
