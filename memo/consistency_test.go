package memo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// heldWrites is a Redis backend without pub/sub whose writes (Set and
// SetMany), once armed, wait until released: the window between a write's
// start and its end is held open for as long as a test needs.
type heldWrites struct {
	*goredis.Backend
	mu      sync.Mutex
	armed   bool
	entered chan struct{} // closed when an armed write starts
	release chan struct{} // closed to let it through

	readArmed   bool
	readDone    chan struct{} // closed when an armed read has read
	readRelease chan struct{} // closed to let it return
}

// heldBackend is what a Cache sees: Get/Set/Delete, batches and
// compare-and-swap, but no pub/sub (so no message evicts a stale L1 entry).
type heldBackend interface {
	backend.Backend
	backend.Batcher
	backend.Swapper
}

var _ heldBackend = (*heldWrites)(nil)

func newHeldWrites(t *testing.T) *heldWrites {
	t.Helper()
	b, err := goredis.New(redistest.Shared(t).Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &heldWrites{Backend: b}
}

// arm makes the next write wait for release.
func (h *heldWrites) arm() {
	h.mu.Lock()
	h.armed = true
	h.entered = make(chan struct{})
	h.release = make(chan struct{})
	h.mu.Unlock()
}

func (h *heldWrites) hold() {
	h.mu.Lock()
	armed, entered, release := h.armed, h.entered, h.release
	h.armed = false
	h.mu.Unlock()
	if armed {
		close(entered)
		<-release
	}
}

// armRead makes the next Get read, then wait for readRelease before it
// returns what it read.
func (h *heldWrites) armRead() {
	h.mu.Lock()
	h.readArmed = true
	h.readDone = make(chan struct{})
	h.readRelease = make(chan struct{})
	h.mu.Unlock()
}

func (h *heldWrites) Get(ctx context.Context, k string) ([]byte, error) {
	v, err := h.Backend.Get(ctx, k)
	h.mu.Lock()
	armed, done, release := h.readArmed, h.readDone, h.readRelease
	h.readArmed = false
	h.mu.Unlock()
	if armed {
		close(done)
		<-release
	}
	return v, err
}

func (h *heldWrites) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	h.hold()
	return h.Backend.Set(ctx, k, v, ttl)
}

func (h *heldWrites) SetMany(ctx context.Context, items []backend.Item) error {
	h.hold()
	return h.Backend.SetMany(ctx, items)
}

// onlyBackend hides every capability but heldBackend's from the Cache.
type onlyBackend struct{ heldBackend }

// TestWriteThenGetNeverOlder: once Set or Invalidate returns nil, no Get
// that starts afterwards on the same node returns an older value — even
// when a Get ran during the write, read the old bytes and kept them in L1,
// and without pub/sub to evict them.
func TestWriteThenGetNeverOlder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(c *memo.Cache[string]) error
	}{
		{"Set", func(c *memo.Cache[string]) error { return c.Set(context.Background(), "k", "v2") }},
		{"Invalidate", func(c *memo.Cache[string]) error { return c.Invalidate(context.Background(), "k") }},
		{"Put", func(c *memo.Cache[string]) error {
			return c.Put(context.Background(), "k", memo.Result[string]{Value: "v2", TTL: time.Hour})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHeldWrites(t)
			c := newCache[string](t, onlyBackend{h}, &memo.Options{Namespace: redistest.Prefix(t),
				L1Size: 10, L1TTL: time.Hour, TTL: time.Hour, BackendTimeout: 5 * time.Second})
			ctx := t.Context()
			load := func(v string) memo.LoadFunc[string] {
				return func(context.Context) (string, error) { return v, nil }
			}
			if v, err := c.Get(ctx, "k", load("v1")); err != nil || v != "v1" {
				t.Fatalf("Get = %q, %v; want v1", v, err)
			}
			h.arm()
			done := make(chan error, 1)
			go func() { done <- tc.write(c) }()
			<-h.entered
			// During the write the old value may be served (and kept).
			if v, err := c.Get(ctx, "k", load("v2")); err != nil || v != "v1" {
				t.Fatalf("Get during the write = %q, %v; want the old v1 (the write has not landed)", v, err)
			}
			close(h.release)
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			for i := 0; i < 3; i++ {
				if v, err := c.Get(ctx, "k", load("v2")); err != nil || v != "v2" {
					t.Fatalf("Get %d after %s returned = %q, %v; want v2, never the older v1", i, tc.name, v, err)
				}
			}
		})
	}
}

// TestWriteThenGetNeverJoinsOlderRead: a Get that starts after Invalidate
// returned does not join a backend read that began during the write (and
// read the old bytes).
func TestWriteThenGetNeverJoinsOlderRead(t *testing.T) {
	t.Parallel()
	h := newHeldWrites(t)
	c := newCache[string](t, onlyBackend{h}, &memo.Options{Namespace: redistest.Prefix(t),
		TTL: time.Hour, BackendTimeout: 5 * time.Second})
	ctx := t.Context()
	load := func(v string) memo.LoadFunc[string] {
		return func(context.Context) (string, error) { return v, nil }
	}
	if v, err := c.Get(ctx, "k", load("v1")); err != nil || v != "v1" {
		t.Fatalf("Get = %q, %v; want v1", v, err)
	}
	h.arm()
	done := make(chan error, 1)
	go func() { done <- c.Invalidate(context.Background(), "k") }()
	<-h.entered
	h.armRead()
	during := make(chan string, 1)
	go func() { v, _ := c.Get(ctx, "k", load("v2")); during <- v }()
	<-h.readDone // that Get read the old bytes and waits to return them
	close(h.release)
	if err := <-done; err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	after := make(chan string, 1)
	go func() { v, _ := c.Get(ctx, "k", load("v2")); after <- v }()
	select {
	case v := <-after:
		if v != "v2" {
			t.Fatalf("Get after Invalidate = %q, want v2", v)
		}
	case <-time.After(3 * time.Second):
		close(h.readRelease)
		t.Fatalf("Get after Invalidate joined the read that began during it (returned %q)", <-after)
	}
	close(h.readRelease)
	<-during
}
