package memory

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// recv returns the next message, failing the test if none is queued.
func recv(t *testing.T, sub backend.Subscription) backend.Message {
	t.Helper()
	select {
	case m, ok := <-sub.Messages():
		if !ok {
			t.Fatalf("Messages() closed, want a message")
		}
		return m
	default:
		t.Fatalf("no message queued, want one")
		return backend.Message{}
	}
}

func TestPubSub(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	s1, err := b.Subscribe(ctx, "a", "b", "a")
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := b.Subscribe(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	payload := []byte("hello")
	for _, ch := range []string{"a", "c", "b"} {
		if err := b.Publish(ctx, ch, payload); err != nil {
			t.Fatalf("Publish(%q) error = %v", ch, err)
		}
	}
	payload[0] = 'X' // the subscribers got copies

	want := []backend.Message{{Channel: "a", Payload: []byte("hello")}, {Channel: "b", Payload: []byte("hello")}}
	for _, w := range want {
		if m := recv(t, s1); m.Channel != w.Channel || string(m.Payload) != string(w.Payload) || m.Gap {
			t.Errorf("s1 got %+v, want %+v", m, w)
		}
	}
	if m := recv(t, s2); m.Channel != "b" || string(m.Payload) != "hello" {
		t.Errorf("s2 got %+v, want channel b", m)
	}
	if n := len(s1.Messages()) + len(s2.Messages()); n != 0 {
		t.Errorf("%d extra messages queued, want 0 (duplicate channel or unsubscribed channel delivered)", n)
	}
}

func TestPubSubGap(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	sub, err := b.Subscribe(ctx, "ch")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	for round := range 2 {
		// Overflow: no receiver, so Publish must drop rather than block.
		for i := range SubscriptionBuffer + 10 {
			if err := b.Publish(ctx, "ch", fmt.Append(nil, i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range SubscriptionBuffer {
			if m := recv(t, sub); m.Gap || string(m.Payload) != fmt.Sprint(i) {
				t.Fatalf("round %d: message %d = %+v, want payload %d", round, i, m, i)
			}
		}
		// The gap notice is already queued: no further Publish needed.
		if m := recv(t, sub); !m.Gap || m.Channel != "" || m.Payload != nil {
			t.Fatalf("round %d: message after overflow = %+v, want a bare gap notice", round, m)
		}
		if n := len(sub.Messages()); n != 0 {
			t.Fatalf("round %d: %d messages queued after the gap, want 0", round, n)
		}
		if err := b.Publish(ctx, "ch", []byte("after")); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, sub); m.Gap || string(m.Payload) != "after" {
			t.Fatalf("round %d: message after gap = %+v, want \"after\"", round, m)
		}
	}
}

func TestPubSubGapOrdering(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	sub, err := b.Subscribe(ctx, "ch")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for range SubscriptionBuffer + 1 { // one dropped → gap queued
		_ = b.Publish(ctx, "ch", []byte("x"))
	}
	recv(t, sub) // the queue (with the gap) is still full: "lost" is dropped
	_ = b.Publish(ctx, "ch", []byte("lost"))
	recv(t, sub) // now there is room
	_ = b.Publish(ctx, "ch", []byte("late"))
	var got []backend.Message
	for len(sub.Messages()) > 0 {
		got = append(got, recv(t, sub))
	}
	n := len(got)
	if n != SubscriptionBuffer {
		t.Errorf("drained %d messages, want %d", n, SubscriptionBuffer)
	}
	if n < 2 || !got[n-2].Gap || string(got[n-1].Payload) != "late" {
		t.Fatalf("tail of queue = %+v, want gap notice then \"late\"", got[max(0, n-2):])
	}
}

func TestSubscriptionClose(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	sub, err := b.Subscribe(ctx, "ch")
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Publish(ctx, "ch", []byte("queued"))
	if err := sub.Close(); err != nil {
		t.Fatalf("Close error = %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close error = %v", err)
	}
	if err := b.Publish(ctx, "ch", []byte("after close")); err != nil {
		t.Fatalf("Publish after subscriber Close error = %v", err)
	}
	if m, ok := <-sub.Messages(); !ok || string(m.Payload) != "queued" {
		t.Errorf("first receive after Close = %+v, %v, want the queued message", m, ok)
	}
	if m, ok := <-sub.Messages(); ok {
		t.Errorf("receive after draining = %+v, want closed channel", m)
	}
	b.hub.mu.RLock()
	n := len(b.hub.subs)
	b.hub.mu.RUnlock()
	if n != 0 {
		t.Errorf("hub holds %d channels after the only subscriber closed, want 0", n)
	}
}

func TestPublishNeverBlocks(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	slow, err := b.Subscribe(ctx, "ch") // never read
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	done := make(chan error, 1)
	go func() {
		for range 10 * SubscriptionBuffer {
			if err := b.Publish(ctx, "ch", []byte("x")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	if n := len(slow.Messages()); n != SubscriptionBuffer+1 {
		t.Errorf("slow subscriber queue = %d, want %d (buffer + gap notice)", n, SubscriptionBuffer+1)
	}
}

func TestPubSubConcurrentNoLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	b, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			sub, err := b.Subscribe(ctx, "ch", fmt.Sprint("own", i))
			if err != nil {
				t.Error(err)
				return
			}
			for j := range 200 {
				_ = b.Publish(ctx, "ch", []byte("m"))
				if j%3 == 0 {
					select {
					case <-sub.Messages():
					default:
					}
				}
			}
			if i%2 == 0 {
				sub.Close() // the others are closed by Backend.Close
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines = %d, want ≤ baseline %d", runtime.NumGoroutine(), base)
		}
		runtime.Gosched()
	}
}
