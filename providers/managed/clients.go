package managed

import (
	"context"
	"io"
	"sync"

	"github.com/stratus-operator/stratus/providers/driver"
)

// clientCache keeps one connected driver client per provider configuration
// and reconnects when the configuration or its credentials change.
type clientCache[T driver.Managed] struct {
	mu      sync.Mutex
	clients map[string]cachedClient[T]
}

type cachedClient[T driver.Managed] struct {
	version string
	client  driver.Client[T]
}

func newClientCache[T driver.Managed]() *clientCache[T] {
	return &clientCache[T]{clients: map[string]cachedClient[T]{}}
}

// get returns the client for rc, connecting with drv when there is none for
// this version of the configuration. Connecting holds the lock, so that many
// objects reconciled at once share one connection.
func (c *clientCache[T]) get(ctx context.Context, drv driver.Driver[T], rc resolvedConfig) (driver.Client[T], error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.clients[rc.key]; ok && e.version == rc.version {
		return e.client, nil
	}
	cl, err := drv.Connect(ctx, rc.Config)
	if err != nil {
		return nil, err
	}
	c.closeLocked(rc.key)
	c.clients[rc.key] = cachedClient[T]{version: rc.version, client: cl}
	return cl, nil
}

// forget closes and drops the client of a configuration.
func (c *clientCache[T]) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(key)
}

func (c *clientCache[T]) closeLocked(key string) {
	if e, ok := c.clients[key]; ok {
		if closer, ok := e.client.(io.Closer); ok {
			_ = closer.Close()
		}
		delete(c.clients, key)
	}
}
