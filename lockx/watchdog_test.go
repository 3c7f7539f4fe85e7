package lockx

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestWatchdogKeepsAlive holds a lock for several TTLs.
func TestWatchdogKeepsAlive(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			const ttl = heldTTL
			l := im.new(t, &Options{TTL: ttl})
			lk, err := l.Lock(ctx, "alive")
			if err != nil {
				t.Fatalf("Lock = %v", err)
			}
			first := lk.Until()
			select {
			case <-lk.Done():
				t.Fatalf("lock lost while the watchdog runs: %v", lk.Err())
			case <-time.After(3 * ttl):
			}
			if !lk.Until().After(first.Add(ttl)) {
				t.Errorf("Until = %v, want extended past %v", lk.Until(), first.Add(ttl))
			}
			if _, err := l.TryLock(ctx, "alive"); !errors.Is(err, ErrNotObtained) {
				t.Errorf("TryLock after 3 TTLs = %v, want ErrNotObtained", err)
			}
			if err := lk.Unlock(ctx); err != nil {
				t.Errorf("Unlock = %v", err)
			}
		})
	}
}

// TestWatchdogCycles runs thousands of Lock/Unlock cycles with a short TTL
// (so the watchdog really extends) and checks that no extension starts
// after Unlock returned and that no goroutine is left behind.
func TestWatchdogCycles(t *testing.T) {
	for _, im := range impls[:2] {
		t.Run(im.name, func(t *testing.T) {
			ctx := t.Context()
			const ttl = heldTTL
			l := im.new(t, &Options{TTL: ttl})
			var (
				returned   sync.Map // *Lock → Unlock has returned
				extends    atomic.Int64
				violations atomic.Int64
			)
			l.testHookExtend = func(lk *Lock) {
				extends.Add(1)
				if _, ok := returned.Load(lk); ok {
					violations.Add(1)
				}
			}
			// Warm up the client's connections before taking the baseline.
			if err := l.Do(ctx, "warm", func(context.Context) error { return nil }); err != nil {
				t.Fatalf("Do = %v", err)
			}
			base := runtime.NumGoroutine()

			const workers, cycles = 4, 500 // 2,000 cycles
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Go(func() {
					name := fmt.Sprint("cycle", w)
					for i := range cycles {
						lk, err := l.Lock(ctx, name)
						if err != nil {
							errs <- err
							return
						}
						if i%50 == 0 { // now and then hold across a few ticks
							time.Sleep(ttl / 2)
						}
						if err := lk.Unlock(ctx); err != nil {
							errs <- err
							return
						}
						returned.Store(lk, true)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			time.Sleep(3 * ttl) // let any stray watchdog tick fire
			if v := violations.Load(); v != 0 {
				t.Fatalf("%d extensions started after Unlock returned", v)
			}
			if extends.Load() == 0 {
				t.Fatalf("the watchdog never extended: test did not exercise it")
			}
			t.Logf("%d watchdog extensions", extends.Load())
			waitGoroutines(t, base)
		})
	}
}

// TestWatchdogLostKey deletes the lock key out of band: the watchdog's next
// extension finds it gone, cancels Do's context within one tick, and does
// not re-create the key.
func TestWatchdogLostKey(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			const ttl = 300 * time.Millisecond
			tick := ttl / 3
			l := im.new(t, &Options{TTL: ttl})
			var took time.Duration
			var cause error
			err := l.Do(ctx, "lost", func(ctx context.Context) error {
				deleteOutOfBand(t, im, l, "lost")
				start := time.Now()
				select {
				case <-ctx.Done():
				case <-time.After(2 * ttl):
					return errors.New("work context not cancelled")
				}
				took, cause = time.Since(start), context.Cause(ctx)
				return ctx.Err()
			})
			if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrLost) {
				t.Errorf("Do = %v, want context.Canceled and ErrLost", err)
			}
			if !errors.Is(cause, ErrLost) {
				t.Errorf("Cause(ctx) = %v, want ErrLost", cause)
			}
			if took > tick+300*time.Millisecond { // scheduling slack on a loaded machine
				t.Errorf("work context cancelled %v after the key was deleted, want within one tick (%v)", took, tick)
			}
			if im.client != nil {
				time.Sleep(tick) // a watchdog that resurrected keys would have done so by now
				if n, err := im.client(t).Exists(ctx, l.key("lost")).Result(); err != nil || n != 0 {
					t.Errorf("EXISTS after loss = %d, %v; want 0 (never re-created)", n, err)
				}
			}
		})
	}
}

func TestWatchdogMaxHold(t *testing.T) {
	t.Parallel()
	for _, im := range impls[:2] {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			// MaxHold comes before the lease could lapse: what ends the
			// lock is MaxHold, not a tick that came late.
			l := im.new(t, &Options{TTL: heldTTL, MaxHold: 500 * time.Millisecond})
			start := time.Now()
			lk, err := l.Lock(ctx, "maxhold")
			if err != nil {
				t.Fatalf("Lock = %v", err)
			}
			defer lk.Unlock(ctx)
			select {
			case <-lk.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("Done not closed after MaxHold")
			}
			if took := time.Since(start); took < 500*time.Millisecond || took > time.Second {
				t.Errorf("Done after %v, want at MaxHold (500ms)", took)
			}
			if !errors.Is(lk.Err(), ErrLost) {
				t.Errorf("Err = %v, want ErrLost", lk.Err())
			}
		})
	}
}

// TestLocalWatchdogSynctest checks the watchdog's schedule exactly with a
// fake clock (the process-local implementation does no I/O).
func TestLocalWatchdogSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		l, err := NewLocal(&Options{TTL: 3 * time.Second, MaxHold: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var extends atomic.Int64
		l.testHookExtend = func(*Lock) { extends.Add(1) }
		start := time.Now()
		lk, err := l.Lock(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		<-lk.Done()
		if took := time.Since(start); took != 10*time.Second {
			t.Errorf("Done after %v, want exactly MaxHold 10s", took)
		}
		// Ticks at 1s, 2s, … 9s; none at 10s (MaxHold wins).
		if got := extends.Load(); got != 9 {
			t.Errorf("extensions = %d, want 9 (every TTL/3 until MaxHold)", got)
		}
		// The lease was last extended at 9s: it runs out at 12s.
		if _, err := l.TryLock(ctx, "s"); !errors.Is(err, ErrNotObtained) {
			t.Errorf("TryLock at MaxHold = %v, want ErrNotObtained until the lease runs out", err)
		}
		time.Sleep(2 * time.Second)
		lk2, err := l.TryLock(ctx, "s")
		if err != nil {
			t.Fatalf("TryLock after the lease ran out = %v", err)
		}
		if lk2.Token() <= lk.Token() {
			t.Errorf("tokens %d then %d, want strictly increasing", lk.Token(), lk2.Token())
		}
		if err := lk.Unlock(ctx); !errors.Is(err, ErrLost) {
			t.Errorf("stale Unlock = %v, want ErrLost", err)
		}
		_ = lk2.Unlock(ctx)

		// Watchdog off: Done closes when the lease runs out.
		l, _ = NewLocal(&Options{TTL: time.Second, DisableWatchdog: true})
		lk, _ = l.Lock(ctx, "s")
		start = time.Now()
		<-lk.Done()
		if took := time.Since(start); took != time.Second {
			t.Errorf("Done after %v without watchdog, want the TTL 1s", took)
		}
		_ = lk.Unlock(ctx)
	})
}
