package memo_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// TestGetManyMissKeepsNoBatchKeys: a GetMany's data keys are built in one
// allocation; what a miss keeps after the batch (the key its value is
// stored under in an in-process backend) must not keep that whole
// allocation alive. Ten batches of 10,000 hits (keys of 150 bytes: 1.5 MB
// of data keys each) and one new key each: the ten stored values may keep
// their own keys, not 15 MB of the batches'.
func TestGetManyMissKeepsNoBatchKeys(t *testing.T) {
	if raceEnabled {
		t.Skip("heap measurement: without -race only")
	}
	c := newCache[int](t, newMemory(t, nil), &memo.Options{TTL: time.Hour})
	ctx := context.Background()
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%06d%s", i, strings.Repeat("k", 144))
	}
	load := func(_ context.Context, ks []string) (map[string]int, error) {
		m := make(map[string]int, len(ks))
		for _, k := range ks {
			m[k] = len(k)
		}
		return m, nil
	}
	if _, err := c.GetMany(ctx, keys, load); err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for b := range 10 {
		batch := append(keys[:len(keys):len(keys)], fmt.Sprintf("new%d%s", b, strings.Repeat("n", 140)))
		got, err := c.GetMany(ctx, batch, load)
		if err != nil || len(got) != len(batch) {
			t.Fatalf("GetMany = %d values, %v", len(got), err)
		}
	}
	grew := int64(heap()) - int64(before)
	t.Logf("heap grew by %d bytes over 10 batches", grew)
	if grew > 5<<20 {
		t.Fatalf("10 batches with one miss each left the heap %d MB larger: each stored miss keeps its batch's data keys (1.5 MB)", grew>>20)
	}
}
