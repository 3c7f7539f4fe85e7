package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
)

// Dial builds the client itself, with ContextTimeoutEnabled forced on.
func ExampleDial() {
	b, err := goredis.Dial(&redis.UniversalOptions{Addrs: []string{"localhost:6379"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.Set(ctx, "greeting", []byte("hello"), time.Minute); err != nil {
		log.Fatal(err)
	}
	v, err := b.Get(ctx, "greeting")
	switch {
	case errors.Is(err, backend.ErrNotFound):
		fmt.Println("miss")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("%s\n", v)
	}
}

// New wraps a client you built; it must have ContextTimeoutEnabled.
func ExampleNew_cluster() {
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"localhost:7000", "localhost:7001", "localhost:7002"},
		ContextTimeoutEnabled: true,
	})
	defer c.Close()
	b, err := goredis.New(c, &goredis.Options{ScanCount: 1000})
	if err != nil {
		log.Fatal(err)
	}
	// DeletePattern scans every master, never KEYS; escape user input.
	n, err := b.DeletePattern(context.Background(), "user:"+backend.EscapeKeyPart("42")+":*")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deleted", n)
}

// A lost Incr reply is reported, never silently re-sent.
func ExampleBackend_Incr() {
	b, err := goredis.Dial(&redis.UniversalOptions{Addrs: []string{"localhost:6379"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n, err := b.Incr(ctx, "hits", 1, time.Hour)
	switch {
	case errors.Is(err, backend.ErrOutcomeUnknown):
		fmt.Println("the increment may or may not have been applied")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("hits:", n)
	}
}

// Subscribers must treat a gap notice as "messages were lost".
func ExampleBackend_Subscribe() {
	b, err := goredis.Dial(&redis.UniversalOptions{Addrs: []string{"localhost:6379"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	sub, err := b.Subscribe(context.Background(), "invalidate")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	for m := range sub.Messages() {
		if m.Gap {
			fmt.Println("flush the local cache")
			continue
		}
		fmt.Printf("evict %s\n", m.Payload)
	}
}

// MemoryStats reports every master of a Cluster separately.
func ExampleBackend_MemoryStats() {
	b, err := goredis.Dial(&redis.UniversalOptions{Addrs: []string{"localhost:6379"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	stats, err := b.MemoryStats(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range stats {
		fmt.Printf("%s: %d bytes used, limit %d, fragmentation %.2f\n", s.Addr, s.UsedMemory, s.MaxMemory, s.FragmentationRatio)
	}
}
