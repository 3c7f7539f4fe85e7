package backend_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/memory"
)

func ExampleEscapeKeyPart() {
	// A user id that would widen a pattern or move a Cluster key.
	id := "*{admin}"
	key := "user:" + backend.EscapeKeyPart(id) + ":profile"
	fmt.Println(key)
	fmt.Println(backend.UnescapeKeyPart(backend.EscapeKeyPart(id)) == id)
	// Output:
	// user:%2A%7Badmin%7D:profile
	// true
}

func ExampleGetMany() {
	b, _ := memory.New(nil)
	ctx := context.Background()
	_ = b.Set(ctx, "a", []byte("1"), time.Minute)
	_ = b.Set(ctx, "c", []byte("3"), time.Minute)

	// One round trip on a backend with batches; one Get per key otherwise.
	vals, _ := backend.GetMany(ctx, b, []string{"a", "b", "c"})
	for i, v := range vals {
		fmt.Printf("%d: %q (miss: %v)\n", i, v, v == nil)
	}
	// Output:
	// 0: "1" (miss: false)
	// 1: "" (miss: true)
	// 2: "3" (miss: false)
}

func ExampleIncr() {
	b, _ := memory.New(nil)
	ctx := context.Background()
	// The TTL applies when the counter is created; later increments keep it.
	n, _ := backend.Incr(ctx, b, "views:post:42", 1, time.Hour)
	n, _ = backend.Incr(ctx, b, "views:post:42", 10, time.Hour)
	fmt.Println(n)
	// Output: 11
}

func ExampleCheckTTL() {
	b, _ := memory.New(nil)
	ctx := context.Background()
	// A zero TTL is an error, never "keep forever"...
	err := b.Set(ctx, "k", []byte("v"), 0)
	fmt.Println(errors.Is(err, backend.ErrInvalidTTL))
	// ...which is spelled out explicitly.
	err = b.Set(ctx, "k", []byte("v"), backend.NoExpiry)
	ttl, _ := backend.TTL(ctx, b, "k")
	fmt.Println(err, ttl == backend.NoExpiry)
	// Output:
	// true
	// <nil> true
}

func ExampleDeletePattern() {
	b, _ := memory.New(nil)
	ctx := context.Background()
	for _, k := range []string{"chat:v1:conv:1", "chat:v1:conv:2", "chat:v2:conv:1"} {
		_ = b.Set(ctx, k, []byte("x"), time.Minute)
	}
	n, _ := backend.DeletePattern(ctx, b, "chat:v1:*")
	fmt.Println(n)
	// Output: 2
}
