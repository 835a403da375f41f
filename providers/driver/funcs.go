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
	CreateFn  func(ctx context.Context, req Request[T]) (CreateResult, error)
	UpdateFn  func(ctx context.Context, req Request[T]) (UpdateResult, error)
	DeleteFn  func(ctx context.Context, req Request[T]) (DeleteResult, error)
}

// Observe calls ObserveFn.
func (c ClientFuncs[T]) Observe(ctx context.Context, req Request[T]) (Observation, error) {
	if c.ObserveFn == nil {
		return Observation{}, nil
	}
	return c.ObserveFn(ctx, req)
}

// Create calls CreateFn.
func (c ClientFuncs[T]) Create(ctx context.Context, req Request[T]) (CreateResult, error) {
	if c.CreateFn == nil {
		return CreateResult{}, nil
	}
	return c.CreateFn(ctx, req)
}

// Update calls UpdateFn.
func (c ClientFuncs[T]) Update(ctx context.Context, req Request[T]) (UpdateResult, error) {
	if c.UpdateFn == nil {
		return UpdateResult{}, nil
	}
	return c.UpdateFn(ctx, req)
}

// Delete calls DeleteFn.
func (c ClientFuncs[T]) Delete(ctx context.Context, req Request[T]) (DeleteResult, error) {
	if c.DeleteFn == nil {
		return DeleteResult{}, nil
	}
	return c.DeleteFn(ctx, req)
}
