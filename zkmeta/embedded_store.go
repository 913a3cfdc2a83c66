package zkmeta

import "context"

// Embedded is a Store for its own session: these methods delegate to it.

// SessionID returns the id of the store's own session.
func (e *Embedded) SessionID() int64 { return e.def.SessionID() }

// SessionEvents returns the session events of the store's own session; see Store.
func (e *Embedded) SessionEvents() <-chan SessionEvent { return e.def.SessionEvents() }

// Expire expires the store's own session and starts a new one; see Session.Expire.
func (e *Embedded) Expire() error { return e.def.Expire() }

// Create creates a znode in the store's own session; see Store.
func (e *Embedded) Create(ctx context.Context, path string, data []byte, mode CreateMode) (string, error) {
	return e.def.Create(ctx, path, data, mode)
}

// Get returns a znode's data and Stat; see Store.
func (e *Embedded) Get(ctx context.Context, path string) ([]byte, Stat, error) {
	return e.def.Get(ctx, path)
}

// GetW is Get with a watch; see Store.
func (e *Embedded) GetW(ctx context.Context, path string) ([]byte, Stat, <-chan Event, error) {
	return e.def.GetW(ctx, path)
}

// Exists reports whether a znode exists; see Store.
func (e *Embedded) Exists(ctx context.Context, path string) (bool, Stat, error) {
	return e.def.Exists(ctx, path)
}

// ExistsW is Exists with a watch; see Store.
func (e *Embedded) ExistsW(ctx context.Context, path string) (bool, Stat, <-chan Event, error) {
	return e.def.ExistsW(ctx, path)
}

// Set replaces a znode's data; see Store.
func (e *Embedded) Set(ctx context.Context, path string, data []byte, version int32) (Stat, error) {
	return e.def.Set(ctx, path, data, version)
}

// Delete deletes a znode; see Store.
func (e *Embedded) Delete(ctx context.Context, path string, version int32) error {
	return e.def.Delete(ctx, path, version)
}

// Children returns the sorted child names; see Store.
func (e *Embedded) Children(ctx context.Context, path string) ([]string, Stat, error) {
	return e.def.Children(ctx, path)
}

// ChildrenW is Children with a watch; see Store.
func (e *Embedded) ChildrenW(ctx context.Context, path string) ([]string, Stat, <-chan Event, error) {
	return e.def.ChildrenW(ctx, path)
}

// Multi applies ops atomically in the store's own session; see Store.
func (e *Embedded) Multi(ctx context.Context, ops ...Op) error {
	return e.def.Multi(ctx, ops...)
}
