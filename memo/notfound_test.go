package memo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

var errNoRows = errors.New("db: no rows") // like sql.ErrNoRows

func TestNotFoundOption(t *testing.T) {
	clk := newClock()
	c := newCache[string](t, newMemory(t, clk), &memo.Options{
		NegativeTTL: time.Minute, Now: clk.Now,
		NotFound: func(err error) bool { return errors.Is(err, errNoRows) },
	})
	ctx := context.Background()
	calls := 0
	load := func(context.Context) (string, error) {
		calls++
		return "", fmt.Errorf("query user 7: %w", errNoRows)
	}
	for i := range 3 {
		if _, err := c.Get(ctx, "user:7", load); !errors.Is(err, memo.ErrNotFound) {
			t.Fatalf("Get #%d: %v; want memo.ErrNotFound", i, err)
		}
	}
	if calls != 1 {
		t.Fatalf("loader called %d times; the user's not-found must be cached negatively", calls)
	}
	if s := c.Stats(); s.NegativeHits != 2 || s.LoadErrors != 0 {
		t.Fatalf("stats %+v; want 2 negative hits, no load errors", s)
	}
	// Other errors are still errors, and never cached.
	boom := errors.New("db: down")
	for range 2 {
		if _, err := c.Get(ctx, "user:8", func(context.Context) (string, error) { calls++; return "", boom }); !errors.Is(err, boom) || errors.Is(err, memo.ErrNotFound) {
			t.Fatalf("a real error: %v", err)
		}
	}
	if calls != 3 {
		t.Fatalf("a real error was cached (calls %d)", calls)
	}
}

func TestNotFoundOptionUnset(t *testing.T) {
	c := newCache[string](t, newMemory(t, nil), &memo.Options{NegativeTTL: time.Minute})
	calls := 0
	for range 2 {
		_, err := c.Get(context.Background(), "k", func(context.Context) (string, error) { calls++; return "", errNoRows })
		if !errors.Is(err, errNoRows) {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Fatalf("without Options.NotFound a user error was cached (calls %d)", calls)
	}
}
