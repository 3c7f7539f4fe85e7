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

func ExamplePipeline() {
	b, _ := memory.New(nil)
	ctx := context.Background()

	// Mixed operations, one round trip per node on a backend with
	// pipelines (one call per op otherwise), one Result per op.
	res, err := backend.Pipeline(ctx, b, []backend.Op{
		backend.SetOp("page:1", []byte("<html>"), time.Minute),
		backend.IncrOp("hits:page:1", 1, time.Hour),
		backend.GetOp("page:1"),
		backend.GetOp("page:2"),
	})
	if err != nil { // an invalid op: nothing ran
		fmt.Println(err)
		return
	}
	fmt.Println(res[0].Status(), res[1].N, string(res[2].Value))
	fmt.Println(res[3].Status(), errors.Is(res[3].Err, backend.ErrNotFound))
	for _, r := range res {
		if r.Status() == backend.Unknown { // sent, reply lost: never re-send an Incr blindly
			fmt.Println("outcome unknown:", r.Err)
		}
	}

	// A TTL ≤ 0 rejects the whole pipeline before anything is sent.
	_, err = backend.Pipeline(ctx, b, []backend.Op{backend.SetOp("k", []byte("v"), 0)})
	fmt.Println(errors.Is(err, backend.ErrInvalidTTL))
	// Output:
	// succeeded 1 <html>
	// failed true
	// true
}

func ExampleCheckPattern() {
	for _, p := range []string{"user:*", "user:[12]:*", "user:[", `user:\`} {
		fmt.Printf("%-12q %v\n", p, backend.CheckPattern(p) == nil)
	}
	// Output:
	// "user:*"     true
	// "user:[12]:*" true
	// "user:["     false
	// "user:\\"    false
}
