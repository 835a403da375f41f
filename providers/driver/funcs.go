package driver

import "context"

// DriverFunc adapts a function to a Driver.
type DriverFunc[T Managed] func(ctx context.Context, cfg Config) (Client[T], error)

// Connect calls f.
func (f DriverFunc[T]) Connect(ctx context.Context, cfg Config) (Client[T], error) {
	return f(ctx, cfg)
}

// ClientFuncs adapts functions to a Client; a nil function does nothing and
// succeeds (Observe then reports a resource that does not exist).
type ClientFuncs[T Managed] struct {
	ObserveFn func(ctx context.Context, req Request[T]) (Observation, error)
	CreateFn  func(ctx context.Context, req Request[T]) (ConnectionDetails, error)
	UpdateFn  func(ctx context.Context, req Request[T]) (ConnectionDetails, error)
	DeleteFn  func(ctx context.Context, req Request[T]) error
}

// Observe calls ObserveFn.
func (c ClientFuncs[T]) Observe(ctx context.Context, req Request[T]) (Observation, error) {
	if c.ObserveFn == nil {
		return Observation{}, nil
	}
	return c.ObserveFn(ctx, req)
}

// Create calls CreateFn.
func (c ClientFuncs[T]) Create(ctx context.Context, req Request[T]) (ConnectionDetails, error) {
	if c.CreateFn == nil {
		return nil, nil
	}
	return c.CreateFn(ctx, req)
}

// Update calls UpdateFn.
func (c ClientFuncs[T]) Update(ctx context.Context, req Request[T]) (ConnectionDetails, error) {
	if c.UpdateFn == nil {
		return nil, nil
	}
	return c.UpdateFn(ctx, req)
}

// Delete calls DeleteFn.
func (c ClientFuncs[T]) Delete(ctx context.Context, req Request[T]) error {
	if c.DeleteFn == nil {
		return nil
	}
	return c.DeleteFn(ctx, req)
}
