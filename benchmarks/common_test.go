package benchmarks

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// Post is the realistic payload of the codec benchmarks: ~500-byte body,
// 5 tags, a time, a 3-entry map (about 650 bytes as msgpack).
type Post struct {
	ID        int64
	Author    string
	Title     string
	Body      string
	Tags      []string
	CreatedAt time.Time
	Likes     int64
	Meta      map[string]string
}

func newPost() Post {
	body := make([]byte, 500)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	return Post{ID: 42, Author: "ada", Title: "On caching", Body: string(body),
		Tags: []string{"go", "cache", "redis", "perf", "memo"}, CreatedAt: time.Unix(1_800_000_000, 123),
		Likes: 1234, Meta: map[string]string{"lang": "en", "src": "web", "v": "2"}}
}

var (
	sinkPost  Post
	sinkBytes []byte
)

// interleave times ours and ref in alternating blocks of block calls each
// (one block of each per b.Loop iteration), so that both see the same
// machine state, and reports their ns per call and the ratio ours/ref.
// The built-in ns/op is the time of one round (block calls of each).
// Measure allocations with the separate, non-interleaved sub-benchmarks.
func interleave(b *testing.B, block int, oursName string, ours func(), refName string, ref func()) {
	b.Helper()
	var tOurs, tRef time.Duration
	rounds := 0
	for b.Loop() {
		rounds++
		// Alternate which goes first so neither always pays for a cold start.
		first, second := ours, ref
		if rounds%2 == 0 {
			first, second = ref, ours
		}
		t0 := time.Now()
		for range block {
			first()
		}
		t1 := time.Now()
		for range block {
			second()
		}
		t2 := time.Now()
		if rounds%2 == 1 {
			tOurs += t1.Sub(t0)
			tRef += t2.Sub(t1)
		} else {
			tRef += t1.Sub(t0)
			tOurs += t2.Sub(t1)
		}
	}
	n := float64(rounds * block)
	b.ReportMetric(float64(tOurs)/n, oursName+"-ns/call")
	b.ReportMetric(float64(tRef)/n, refName+"-ns/call")
	b.ReportMetric(float64(tOurs)/float64(tRef), fmt.Sprintf("%s/%s", oursName, refName))
}

// interleaveParallel is interleave from workers goroutines at once: each
// round runs perWorker calls of ours on every worker, waits for all of
// them, then does the same for ref (the order alternating by round). It
// reports wall time per call (the inverse of throughput), for each and
// the ratio ours/ref.
func interleaveParallel(b *testing.B, workers, perWorker int, oursName string, ours func(), refName string, ref func()) {
	b.Helper()
	burst := func(f func()) time.Duration {
		var wg sync.WaitGroup
		t0 := time.Now()
		for range workers {
			wg.Go(func() {
				for range perWorker {
					f()
				}
			})
		}
		wg.Wait()
		return time.Since(t0)
	}
	alternate(b, workers*perWorker, oursName, func() time.Duration { return burst(ours) },
		refName, func() time.Duration { return burst(ref) })
}

// alternate runs one phase of each side per b.Loop iteration, the order
// alternating so neither always goes first, and reports each side's time
// per call (calls per phase) and the ratio ours/ref.
func alternate(b *testing.B, calls int, oursName string, ours func() time.Duration, refName string, ref func() time.Duration) {
	b.Helper()
	var tOurs, tRef time.Duration
	rounds := 0
	for b.Loop() {
		rounds++
		if rounds%2 == 1 {
			tOurs += ours()
			tRef += ref()
		} else {
			tRef += ref()
			tOurs += ours()
		}
	}
	n := float64(rounds * calls)
	b.ReportMetric(float64(tOurs)/n, oursName+"-ns/call")
	b.ReportMetric(float64(tRef)/n, refName+"-ns/call")
	b.ReportMetric(float64(tOurs)/float64(tRef), fmt.Sprintf("%s/%s", oursName, refName))
}

// benchBackendTimeout is memo's BackendTimeout in these benchmarks: the 3 s
// read timeout go-redis applies to every peer's command (memo's default,
// 250 ms, makes a Get that a busy machine stalls fall back to loading,
// and a benchmark of hits then fails its loads check).
const benchBackendTimeout = 3 * time.Second
