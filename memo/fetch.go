package memo

import (
	"context"
	"time"
)

// Entry is a value found in the cache, handed to a [FetchFunc] so it can
// revalidate it (for example with an HTTP conditional request) instead of
// loading from scratch.
type Entry[V any] struct {
	Value     V
	CreatedAt time.Time // when it was stored
	Expires   time.Time // when it stopped (or stops) being fresh; zero = never
}

// Result is what a [FetchFunc] returns: the value and how to cache it.
type Result[V any] struct {
	Value V
	// TTL is how long Value is fresh. Zero means Options.TTL (jittered);
	// an explicit TTL is used exactly, never jittered past what the caller
	// asked for.
	TTL time.Duration
	// StaleWhileRevalidate and StaleIfError are this value's stale windows
	// after TTL. Zero means Options.StaleTTL and Options.StaleIfError.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// Retain keeps the entry this long past TTL (even when it may not be
	// served stale) so a later fetch can revalidate it. Default 0.
	Retain time.Duration
	// NoStore returns Value to this caller and the callers coalesced with
	// it, without storing it.
	NoStore bool
	// Private returns Value to this caller only and stores nothing: every
	// caller that was waiting on this fetch runs its own. Use it for values
	// that must not be shared (an HTTP response carrying Set-Cookie).
	Private bool
}

// FetchFunc loads or revalidates the value of one key. stale is the entry
// the cache holds for the key when there is one that is no longer fresh
// (nil otherwise). The context is detached from the callers' and bounded by
// Options.LoadTimeout. Returning [ErrNotFound] means "no value".
type FetchFunc[V any] func(ctx context.Context, stale *Entry[V]) (Result[V], error)

// Source says where a value came from.
type Source uint8

// Sources of a value.
const (
	SourceL1      Source = iota + 1 // the in-process L1
	SourceBackend                   // the backend, fresh
	SourceStale                     // the backend, stale (while revalidating, or on error)
	SourceLoad                      // a load by this caller or one it was coalesced with
)

// String returns "l1", "backend", "stale" or "load".
func (s Source) String() string {
	switch s {
	case SourceL1:
		return "l1"
	case SourceBackend:
		return "backend"
	case SourceStale:
		return "stale"
	case SourceLoad:
		return "load"
	}
	return "unknown"
}

// Info describes a value returned by [Cache.Fetch].
type Info struct {
	Source    Source
	CreatedAt time.Time // when the value was stored or loaded
	Expires   time.Time // end of freshness; zero = never or not stored
	Stale     bool      // the value is past Expires (served stale)
	Coalesced bool      // the value came from another caller's load
	// Stored reports that this load's value was written to the backend
	// before the call returned. It is false when the store was skipped,
	// refused (an invalidation overlapped the load), failed, or runs in
	// the background, so a caller never reports a store that did not
	// happen.
	Stored bool
}

// loadFetch adapts a LoadFunc.
func loadFetch[V any](load LoadFunc[V]) FetchFunc[V] {
	return func(ctx context.Context, _ *Entry[V]) (Result[V], error) {
		v, err := load(ctx)
		return Result[V]{Value: v}, err
	}
}

func (m entryMeta) info(s Source) Info {
	return Info{Source: s, CreatedAt: m.created, Expires: m.soft}
}
