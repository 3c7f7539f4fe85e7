package memory

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

func TestConcurrentMixed(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, &Options{MaxEntries: 500, MaxBytes: 64 << 10})
	ctx := t.Context()
	sub, err := b.Subscribe(ctx, "inv")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 500 {
				k := fmt.Sprint("k", rng.IntN(1000))
				ttl := time.Duration(1+rng.IntN(5)) * time.Second
				var err error
				switch rng.IntN(14) {
				case 0:
					err = b.Set(ctx, k, make([]byte, rng.IntN(300)), ttl)
				case 1:
					_, err = b.Incr(ctx, "ctr:"+k, 1, ttl)
				case 2:
					err = b.Delete(ctx, k)
				case 3:
					err = b.Expire(ctx, k, ttl)
				case 4:
					_, err = b.TTL(ctx, k)
				case 5:
					_, err = b.CompareAndSwap(ctx, k, nil, []byte("v"), ttl)
				case 6:
					_, err = b.GetMany(ctx, []string{k, "k1", "k2"})
				case 7:
					err = b.SetMany(ctx, []backend.Item{{Key: k, Value: []byte("v"), TTL: ttl}, {Key: "k3", TTL: ttl}})
				case 8:
					err = b.Scan(ctx, fmt.Sprint("k", rng.IntN(10), "*"), func(key string) error {
						_, err := b.Get(ctx, key)
						if errors.Is(err, backend.ErrNotFound) {
							err = nil
						}
						return err
					})
				case 9:
					_, err = b.DeletePattern(ctx, fmt.Sprint("k", rng.IntN(100), "?"))
				case 10:
					err = b.Publish(ctx, "inv", []byte(k))
				case 11:
					clk.Advance(100 * time.Millisecond)
				case 12:
					_ = b.Stats()
					_ = b.Len()
				default:
					_, err = b.Get(ctx, k)
				}
				if err != nil && !errors.Is(err, backend.ErrNotFound) && !errors.Is(err, backend.ErrNotInteger) {
					t.Errorf("operation on %q error = %v", k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkInvariants(t, b)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range sub.Messages() {
		n++
	}
	if n == 0 || n > SubscriptionBuffer+1 {
		t.Errorf("subscriber received %d messages, want 1..%d", n, SubscriptionBuffer+1)
	}
}

func TestIncrLinearizable(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	const goroutines, perG = 64, 500
	var wg sync.WaitGroup
	seen := make([][]int64, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for range perG {
				n, err := b.Incr(ctx, "ctr", 1, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				seen[g] = append(seen[g], n)
			}
		})
	}
	wg.Wait()
	v, err := b.Get(ctx, "ctr")
	if err != nil || string(v) != strconv.Itoa(goroutines*perG) {
		t.Fatalf("Get(ctr) = %q, %v, want %d", v, err, goroutines*perG)
	}
	// Every Incr returned a distinct value: 1..N exactly once.
	hit := make([]bool, goroutines*perG+1)
	for _, ns := range seen {
		for _, n := range ns {
			if n < 1 || n > goroutines*perG || hit[n] {
				t.Fatalf("Incr returned %d twice or out of range", n)
			}
			hit[n] = true
		}
	}
}

func TestCompareAndSwapLinearizable(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	if err := b.Set(ctx, "v", []byte("0"), backend.NoExpiry); err != nil {
		t.Fatal(err)
	}
	const goroutines, perG = 64, 50
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for done := 0; done < perG; {
				old, err := b.Get(ctx, "v")
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := strconv.Atoi(string(old))
				ok, err := b.CompareAndSwap(ctx, "v", old, []byte(strconv.Itoa(n+1)), backend.NoExpiry)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					done++
				}
			}
		})
	}
	wg.Wait()
	if v, _ := b.Get(ctx, "v"); string(v) != strconv.Itoa(goroutines*perG) {
		t.Errorf("Get(v) = %q, want %d (lost or duplicated swaps)", v, goroutines*perG)
	}
}
