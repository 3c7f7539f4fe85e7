package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/memory"
)

func Example() {
	ctx := context.Background()
	b, err := memory.New(nil) // defaults: 100,000 entries, 64 MiB
	if err != nil {
		panic(err)
	}
	defer b.Close()

	if err := b.Set(ctx, "greeting", []byte("hello"), time.Minute); err != nil {
		panic(err)
	}
	v, err := b.Get(ctx, "greeting")
	fmt.Printf("%s %v\n", v, err)

	_, err = b.Get(ctx, "missing")
	fmt.Println(errors.Is(err, backend.ErrNotFound))
	// Output:
	// hello <nil>
	// true
}

func ExampleBackend_Incr() {
	ctx := context.Background()
	b, err := memory.New(nil)
	if err != nil {
		panic(err)
	}
	defer b.Close()

	for range 3 {
		if _, err := b.Incr(ctx, "visits", 1, time.Hour); err != nil {
			panic(err)
		}
	}
	n, _ := b.Incr(ctx, "visits", 2, time.Hour)
	v, _ := b.Get(ctx, "visits") // counters are stored as decimal text
	fmt.Println(n, string(v))
	// Output: 5 5
}

func ExampleBackend_DeletePattern() {
	ctx := context.Background()
	b, err := memory.New(nil)
	if err != nil {
		panic(err)
	}
	defer b.Close()

	for _, k := range []string{"user:1:profile", "user:1:feed/page/2", "user:2:profile"} {
		if err := b.Set(ctx, k, []byte("…"), time.Hour); err != nil {
			panic(err)
		}
	}
	// Redis glob: '*' also matches '/'. Escape user input with
	// backend.EscapeKeyPart before building a pattern from it.
	n, err := b.DeletePattern(ctx, "user:"+backend.EscapeKeyPart("1")+":*")
	fmt.Println(n, err, b.Len())
	// Output: 2 <nil> 1
}

func ExampleBackend_Subscribe() {
	ctx := context.Background()
	b, err := memory.New(nil)
	if err != nil {
		panic(err)
	}
	defer b.Close()

	sub, err := b.Subscribe(ctx, "invalidate")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	if err := b.Publish(ctx, "invalidate", []byte("user:1")); err != nil {
		panic(err)
	}
	m := <-sub.Messages()
	fmt.Printf("%s %s %v\n", m.Channel, m.Payload, m.Gap)
	// Output: invalidate user:1 false
}
