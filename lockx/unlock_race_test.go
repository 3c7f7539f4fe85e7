package lockx

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestUnlockWaitsForTickInProgress makes the Unlock/watchdog race
// deterministic: a watchdog tick is held inside its extension hook while
// Unlock is called. Unlock must not return until that tick has finished,
// and no extension may start after Unlock returned.
func TestUnlockWaitsForTickInProgress(t *testing.T) {
	t.Parallel()
	// The lease must outlast the held tick and the Unlock behind it: with
	// 600 ms, a loaded machine (load ~25) released after the lease had
	// run out ("Unlock = lock lost").
	const ttl = 1500 * time.Millisecond
	l, err := NewLocal(&Options{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	inHook := make(chan struct{})
	proceed := make(chan struct{})
	var calls, afterUnlock atomic.Int32
	var unlocked atomic.Bool
	l.testHookExtend = func(*Lock) {
		if unlocked.Load() {
			afterUnlock.Add(1)
		}
		if calls.Add(1) == 1 {
			close(inHook)
			<-proceed
		}
	}
	lk, err := l.Lock(context.Background(), "race")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inHook: // a tick is now inside its extension
	case <-time.After(5 * time.Second):
		t.Fatal("the watchdog never ticked")
	}
	done := make(chan error, 1)
	go func() {
		err := lk.Unlock(context.Background())
		unlocked.Store(true)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Unlock returned (%v) while a watchdog tick was still extending", err)
	case <-time.After(50 * time.Millisecond): // give a buggy Unlock the chance to return
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatalf("Unlock = %v", err)
	}
	deadline := time.After(2*ttl/3 + 100*time.Millisecond) // more than two ticks
	<-deadline
	if n := afterUnlock.Load(); n != 0 {
		t.Fatalf("%d watchdog extensions started after Unlock returned", n)
	}
}
