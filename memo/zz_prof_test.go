package memo_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

func BenchmarkZZMemoize(b *testing.B) {
	be, _ := memory.New(nil)
	c, _ := memo.New[benchPost](be, &memo.Options{L1Size: 1024, TTL: time.Hour, L1TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	get := memo.Memoize(c, func(context.Context, string) (benchPost, error) { return p, nil }, nil)
	_, _ = get(ctx, "post:42")
	for b.Loop() {
		sink, _ = get(ctx, "post:42")
	}
}

func BenchmarkZZGet(b *testing.B) {
	be, _ := memory.New(nil)
	c, _ := memo.New[benchPost](be, &memo.Options{L1Size: 1024, TTL: time.Hour, L1TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	load := func(context.Context) (benchPost, error) { return p, nil }
	_, _ = c.Get(ctx, "post:42", load)
	for b.Loop() {
		sink, _ = c.Get(ctx, "post:42", load)
	}
}
