package memo_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// TestLockReleaseNotWaited: a miss with a Locker returns without waiting
// for its unlock, and an unlock never waits behind another one (the
// second miss's unlock runs while the first is still blocked). Close
// waits for the unlocks in flight.
func TestLockReleaseNotWaited(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	var started, released atomic.Int32
	startedOne := make(chan struct{}, 4)
	locker := memo.LockerFunc(func(ctx context.Context, name string) (func(context.Context) error, bool, error) {
		return func(ctx context.Context) error {
			startedOne <- struct{}{}
			if started.Add(1) == 1 {
				<-block // the first unlock hangs until the test lets it go
			}
			released.Add(1)
			return nil
		}, true, nil
	})
	c, err := memo.New[string](newMemory(t, nil), &memo.Options{Locker: locker, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	load := func(context.Context) (string, error) { return "v", nil }
	wait := func(what string) {
		t.Helper()
		select {
		case <-startedOne:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never started", what)
		}
	}
	for i := range 2 {
		done := make(chan error, 1)
		go func() { _, err := c.Get(ctx, fmt.Sprint("k", i), load); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Get %d waited for an unlock", i)
		}
		wait(fmt.Sprint("unlock ", i))
	}
	// The second unlock ran although the first is still blocked.
	deadline := time.Now().Add(10 * time.Second)
	for released.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("released = %d with the first unlock blocked, want 1 (the second ran)", released.Load())
		}
		time.Sleep(time.Millisecond) // polling a counter set by another goroutine
	}
	closed := make(chan struct{})
	go func() { _ = c.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned with an unlock in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(block)
	<-closed
	if n := released.Load(); n != 2 {
		t.Fatalf("released = %d after Close, want 2", n)
	}
}

// TestFlightsOfLeavingCallersRunTogether: the flights of callers that can
// leave run on kept goroutines, never one waiting behind another: two
// loads that each wait for the other to start both finish, and the kept
// goroutines end with Close.
func TestFlightsOfLeavingCallersRunTogether(t *testing.T) {
	base := runtime.NumGoroutine()
	c, err := memo.New[string](newMemory(t, nil), &memo.Options{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 { // later rounds find the kept goroutines idle
		var started sync.WaitGroup
		started.Add(2)
		errs := make(chan error, 2)
		for i := range 2 {
			go func() {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				_, err := c.Get(ctx, fmt.Sprint("k", round, i), func(context.Context) (string, error) {
					started.Done()
					started.Wait() // the other load must be running too
					return "v", nil
				})
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: Get = %v (the loads did not run together)", round, err)
			}
		}
	}
	_ = c.Close()
	goroutinesSettle(t, base)
}
