package lockx_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cachekit/cachekit/lockx"
	"github.com/redis/go-redis/v9"
)

func ExampleNewLocal() {
	locker, err := lockx.NewLocal(nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	lk, err := locker.Lock(ctx, "report:daily")
	if err != nil {
		panic(err)
	}
	_, err = locker.TryLock(ctx, "report:daily")
	fmt.Println("second TryLock:", errors.Is(err, lockx.ErrNotObtained))
	fmt.Println("Unlock:", lk.Unlock(ctx))
	// Output:
	// second TryLock: true
	// Unlock: <nil>
}

func ExampleLocker_Do() {
	locker, _ := lockx.NewLocal(nil)
	var (
		wg      sync.WaitGroup
		counter int
	)
	for range 10 {
		wg.Go(func() {
			err := locker.Do(context.Background(), "counter", func(ctx context.Context) error {
				counter++ // ctx is cancelled if the lock is lost
				return nil
			})
			if err != nil {
				panic(err)
			}
		})
	}
	wg.Wait()
	fmt.Println(counter)
	// Output: 10
}

// store is a resource protected by fencing: it rejects writes whose token
// is lower than the highest it has accepted.
type store struct {
	mu      sync.Mutex
	highest int64
	value   string
}

func (s *store) Write(token int64, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token < s.highest {
		return fmt.Errorf("stale token %d < %d", token, s.highest)
	}
	s.highest, s.value = token, v
	return nil
}

func ExampleLock_Token() {
	locker, _ := lockx.NewLocal(&lockx.Options{TTL: 50 * time.Millisecond, DisableWatchdog: true})
	ctx := context.Background()
	var s store

	stale, _ := locker.Lock(ctx, "doc")
	<-stale.Done() // the holder stalls past its lease…
	fresh, _ := locker.Lock(ctx, "doc")
	fmt.Println("fresh write:", s.Write(fresh.Token(), "new"))
	fmt.Println("stale write rejected:", s.Write(stale.Token(), "old") != nil)
	fmt.Println("stale unlock lost:", errors.Is(stale.Unlock(ctx), lockx.ErrLost))
	fmt.Println("value:", s.value)
	_ = fresh.Unlock(ctx)
	// Output:
	// fresh write: <nil>
	// stale write rejected: true
	// stale unlock lost: true
	// value: new
}

func ExampleLocker_TryAcquire() {
	locker, _ := lockx.NewLocal(nil)
	ctx := context.Background()
	release, ok, err := locker.TryAcquire(ctx, "refresh:user:42")
	if err != nil || !ok {
		fmt.Println("someone else is refreshing")
		return
	}
	defer release(ctx)
	fmt.Println("refreshing")
	// Output: refreshing
}

func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // required: a frozen server must not outlast the context
	})
	locker, err := lockx.New(client, &lockx.Options{
		TTL:            10 * time.Second,
		MaxHold:        time.Minute,
		StrictEviction: true, // refuse a server that may evict lock keys
	})
	if errors.Is(err, lockx.ErrEvictionPolicy) {
		fmt.Println("use a lock server with maxmemory-policy noeviction:", err)
		return
	}
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = locker.Do(ctx, "invoice:42", func(ctx context.Context) error {
		// Long work: the watchdog extends the lease every TTL/3; ctx is
		// cancelled if the lock is lost.
		return nil
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("gave up waiting for the lock")
	case errors.Is(err, lockx.ErrLost):
		fmt.Println("lost the lock while working")
	}
}

func ExampleNewRedlock() {
	var clients []redis.UniversalClient
	for _, addr := range []string{"redis-a:6379", "redis-b:6379", "redis-c:6379"} {
		clients = append(clients, redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true}))
	}
	locker, err := lockx.NewRedlock(clients, nil) // quorum: 2 of 3
	if err != nil {
		panic(err)
	}
	lk, err := locker.TryLock(context.Background(), "leader")
	var qe *lockx.QuorumError
	if errors.As(err, &qe) {
		fmt.Println("unreachable nodes:", qe.Addrs)
		return
	}
	if err != nil {
		return
	}
	defer lk.Unlock(context.Background())
	fmt.Println("leading with token", lk.Token())
}
