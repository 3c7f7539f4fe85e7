package backendtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// testPipeline runs mixed operations through backend.Pipeline (the
// backend's Pipeliner, or the sequential fallback) and checks one result
// per op, in order, with the single-key methods' semantics.
func testPipeline(t *testing.T, b backend.Backend, p string) {
	ctx := t.Context()
	_, counter := b.(backend.Counter)
	_, expirer := b.(backend.Expirer)
	mustSet(t, b, p+"text", []byte("hello"), time.Minute)

	type step struct {
		op    backend.Op
		check func(r backend.Result) error
	}
	ok := func(r backend.Result) error {
		if r.Err != nil || r.Status() != backend.Succeeded {
			return fmt.Errorf("= %v (%v), want success", r.Err, r.Status())
		}
		return nil
	}
	is := func(target error) func(backend.Result) error {
		return func(r backend.Result) error {
			if !errors.Is(r.Err, target) || r.Status() != backend.Failed {
				return fmt.Errorf("= %v (%v), want %v (failed)", r.Err, r.Status(), target)
			}
			return nil
		}
	}
	value := func(want string) func(backend.Result) error {
		return func(r backend.Result) error {
			if r.Err != nil || r.Value == nil || string(r.Value) != want {
				return fmt.Errorf("= %q (nil: %v), %v; want %q", r.Value, r.Value == nil, r.Err, want)
			}
			return nil
		}
	}
	n := func(want int64) func(backend.Result) error {
		return func(r backend.Result) error {
			if r.Err != nil || r.N != want {
				return fmt.Errorf("= %d, %v; want %d", r.N, r.Err, want)
			}
			return nil
		}
	}
	ttl := func(lo, hi time.Duration) func(backend.Result) error {
		return func(r backend.Result) error {
			if r.Err != nil || r.TTL < lo || r.TTL > hi {
				return fmt.Errorf("= %v, %v; want in [%v, %v]", r.TTL, r.Err, lo, hi)
			}
			return nil
		}
	}
	steps := []step{
		{backend.GetOp(p + "a"), is(backend.ErrNotFound)},
		{backend.SetOp(p+"a", []byte("one"), time.Minute), ok},
		{backend.GetOp(p + "a"), value("one")}, // ops on one key apply in order
		{backend.SetOp(p+"a", []byte("two"), time.Minute), ok},
		{backend.GetOp(p + "a"), value("two")},
		{backend.SetOp(p+"empty", []byte{}, time.Minute), ok},
		{backend.GetOp(p + "empty"), value("")},
		{backend.SetOp(p+"forever", []byte("f"), backend.NoExpiry), ok},
		{backend.SetOp(p+"sub-ms", []byte("s"), 500*time.Microsecond), ok},
		{backend.DeleteOp(p + "a"), ok},
		{backend.GetOp(p + "a"), is(backend.ErrNotFound)},
		{backend.DeleteOp(p + "never-existed"), ok},
	}
	if counter {
		steps = append(steps,
			step{backend.IncrOp(p+"c", 5, time.Minute), n(5)},
			step{backend.IncrOp(p+"c", -2, time.Hour), n(3)},
			step{backend.GetOp(p + "c"), value("3")},
			step{backend.IncrOp(p+"text", 1, time.Minute), is(backend.ErrNotInteger)},
			step{backend.IncrOp(p+"c-forever", 1, backend.NoExpiry), n(1)},
		)
	}
	if expirer {
		steps = append(steps,
			step{backend.TTLOp(p + "missing"), is(backend.ErrNotFound)},
			step{backend.ExpireOp(p+"missing", time.Minute), is(backend.ErrNotFound)},
			step{backend.PersistOp(p + "missing"), is(backend.ErrNotFound)},
			step{backend.TTLOp(p + "forever"), ttl(backend.NoExpiry, backend.NoExpiry)},
			step{backend.ExpireOp(p+"forever", time.Hour), ok},
			step{backend.TTLOp(p + "forever"), ttl(59*time.Minute, time.Hour)},
			step{backend.PersistOp(p + "forever"), ok},
			step{backend.TTLOp(p + "forever"), ttl(backend.NoExpiry, backend.NoExpiry)},
			step{backend.ExpireOp(p+"forever", time.Hour), ok},
			step{backend.ExpireOp(p+"forever", backend.NoExpiry), ok},
			step{backend.TTLOp(p + "forever"), ttl(backend.NoExpiry, backend.NoExpiry)},
		)
		if counter {
			steps = append(steps, step{backend.TTLOp(p + "c"), ttl(time.Second, time.Minute)}) // created with 1m, kept
		}
	}
	// Keys spread over every node of a cluster.
	for i := range 40 {
		steps = append(steps, step{backend.SetOp(fmt.Sprintf("%sk%d", p, i), []byte(fmt.Sprint(i)), time.Minute), ok})
	}
	for i := range 40 {
		steps = append(steps, step{backend.GetOp(fmt.Sprintf("%sk%d", p, i)), value(fmt.Sprint(i))})
	}
	ops := make([]backend.Op, len(steps))
	for i, s := range steps {
		ops[i] = s.op
	}
	res, err := backend.Pipeline(ctx, b, ops)
	if err != nil || len(res) != len(ops) {
		t.Fatalf("Pipeline(%d ops) = %d results, %v; want %d, nil", len(ops), len(res), err, len(ops))
	}
	for i, s := range steps {
		if err := s.check(res[i]); err != nil {
			t.Errorf("op %d %v(%q) %v", i, s.op.Kind, s.op.Key, err)
		}
	}
	if got := mustGet(t, b, p+"k7"); string(got) != "7" {
		t.Fatalf("Get(k7) after the pipeline = %q, want 7", got)
	}

	// Missing capabilities fail their ops with ErrUnsupported (fallback only).
	if !counter {
		res, err := backend.Pipeline(ctx, b, []backend.Op{backend.IncrOp(p+"c", 1, time.Minute), backend.GetOp(p + "text")})
		if err != nil || !errors.Is(res[0].Err, errors.ErrUnsupported) || string(res[1].Value) != "hello" {
			t.Fatalf("Pipeline(Incr, Get) without Counter = %+v, %v; want ErrUnsupported, then hello", res, err)
		}
	}

	// An empty pipeline is fine.
	if res, err := backend.Pipeline(ctx, b, nil); err != nil || len(res) != 0 {
		t.Fatalf("Pipeline(nil) = %v, %v; want empty, nil", res, err)
	}
}

// testPipelineInvalid: an invalid op anywhere rejects the whole pipeline
// before anything runs.
func testPipelineInvalid(t *testing.T, b backend.Backend, p string) {
	ctx := t.Context()
	for _, bad := range []backend.Op{
		backend.SetOp(p+"x", []byte("v"), 0),
		backend.SetOp(p+"x", []byte("v"), -time.Second),
		backend.ExpireOp(p+"x", 0),
		backend.IncrOp(p+"x", 1, -1),
		backend.GetOp(""),
		{Kind: 0, Key: p + "x"},
		{Kind: 200, Key: p + "x"},
	} {
		ops := []backend.Op{backend.SetOp(p+"first", []byte("v"), time.Minute), backend.DeleteOp(p + "keep"), bad}
		mustSet(t, b, p+"keep", []byte("k"), time.Minute)
		res, err := backend.Pipeline(ctx, b, ops)
		if err == nil || res != nil {
			t.Fatalf("Pipeline with invalid %v(%q, ttl %v) = %v, %v; want an error and no results", bad.Kind, bad.Key, bad.TTL, res, err)
		}
		switch {
		case bad.Key == "" && !errors.Is(err, backend.ErrInvalidKey):
			t.Fatalf("Pipeline with an empty key = %v, want ErrInvalidKey", err)
		case bad.Key != "" && bad.Kind >= backend.OpGet && bad.Kind <= backend.OpPersist && !errors.Is(err, backend.ErrInvalidTTL):
			t.Fatalf("Pipeline with ttl %v = %v, want ErrInvalidTTL", bad.TTL, err)
		}
		wantMiss(t, b, p+"first")
		if got := mustGet(t, b, p+"keep"); string(got) != "k" {
			t.Fatalf("a rejected pipeline ran its Delete")
		}
	}
}
