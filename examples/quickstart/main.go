// Command quickstart memoizes a slow function on the embedded memory
// backend and prints hits, misses and timings. No Redis needed:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

// Post is what the slow function returns.
type Post struct {
	ID    int64
	Title string
	Likes int64
}

func main() {
	b, err := memory.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	posts, err := memo.New[Post](b, &memo.Options{Namespace: "posts", TTL: time.Minute, L1Size: 1000})
	if err != nil {
		log.Fatal(err)
	}
	defer posts.Close()

	var loads atomic.Int64
	slowLoad := func(ctx context.Context, id int64) (Post, error) {
		loads.Add(1)
		select {
		case <-time.After(100 * time.Millisecond): // a slow database query
		case <-ctx.Done():
			return Post{}, ctx.Err()
		}
		return Post{ID: id, Title: fmt.Sprintf("Post #%d", id), Likes: id * 7}, nil
	}
	getPost := memo.Memoize(posts, slowLoad, nil)
	ctx := context.Background()

	timed := func(label string, f func()) {
		start := time.Now()
		f()
		fmt.Printf("%-44s %10v\n", label, time.Since(start).Round(time.Microsecond))
	}

	timed("first call (miss, loads)", func() { _, _ = getPost(ctx, 1) })
	timed("second call (hit)", func() { _, _ = getPost(ctx, 1) })
	timed("200 concurrent callers on a cold key", func() {
		var wg sync.WaitGroup
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = getPost(ctx, 2) }()
		}
		wg.Wait()
	})
	timed("10,000 hits", func() {
		for i := 0; i < 10_000; i++ {
			_, _ = getPost(ctx, 1)
		}
	})
	timed("invalidate, then call again (miss)", func() {
		_ = posts.Invalidate(ctx, "1")
		_, _ = getPost(ctx, 1)
	})

	s := posts.Stats()
	fmt.Printf("\nloader calls: %d (one per cold key, one after invalidation)\n", loads.Load())
	fmt.Printf("hits: %d in-process (L1), %d backend; misses: %d; coalesced callers: %d\n",
		s.HitsL1, s.HitsBackend, s.Misses, s.Coalesced)
}
