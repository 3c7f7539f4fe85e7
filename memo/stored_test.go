package memo_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// TestInfoStoredOnlyWhenStored: Info.Stored is true for a load whose value
// was written, and false when the store was refused because an
// invalidation overlapped the load (the middleware's Cache-Status
// "stored" reads it, so a refused store must never be reported).
func TestInfoStoredOnlyWhenStored(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	load := func(v string) memo.FetchFunc[string] {
		return func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
			return memo.Result[string]{Value: v, TTL: time.Minute}, nil
		}
	}
	_, info, err := c.Fetch(t.Context(), "stored", load("v"))
	if err != nil || info.Source != memo.SourceLoad || !info.Stored {
		t.Fatalf("Fetch(cold) = %+v, %v; want a load with Stored", info, err)
	}

	inLoad, resume := make(chan struct{}), make(chan struct{})
	type res struct {
		info memo.Info
		err  error
	}
	done := make(chan res, 1)
	go func() {
		_, info, err := c.Fetch(t.Context(), "refused", func(ctx context.Context, e *memo.Entry[string]) (memo.Result[string], error) {
			close(inLoad)
			<-resume
			return load("old")(ctx, e)
		})
		done <- res{info, err}
	}()
	select {
	case <-inLoad:
	case <-time.After(10 * time.Second):
		t.Fatal("the load never started")
	}
	if err := c.Invalidate(t.Context(), "refused"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	close(resume)
	r := <-done
	if r.err != nil || r.info.Source != memo.SourceLoad || r.info.Stored {
		t.Fatalf("Fetch(load overlapping Invalidate) = %+v, %v; want a load with Stored false", r.info, r.err)
	}
}
