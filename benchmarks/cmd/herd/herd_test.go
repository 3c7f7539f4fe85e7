package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
)

// The test binary is its own child process: started with $HERD_CHILD set,
// it runs the child instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(context.Background()))
	}
	redistest.Main(m)
}

func testConfig(tb testing.TB) (config, childCommand) {
	tb.Helper()
	s := redistest.Shared(tb)
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := config{Redis: s.Addr, Run: strconv.FormatInt(time.Now().UnixNano(), 36) + "." + strconv.Itoa(os.Getpid()),
		Procs: 4, Goroutines: 50, Load: 50 * time.Millisecond, Trials: 1}
	newCmd := func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, self, "-test.run=^$") }
	return cfg, newCmd
}

// TestHerd runs the whole program logic (4 child processes × 50 goroutines)
// for one trial of each library.
func TestHerd(t *testing.T) {
	cfg, newCmd := testConfig(t)
	var out bytes.Buffer
	ok, err := run(t.Context(), &out, cfg, []string{libMemo, libGoCache}, newCmd)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("run reported a failed trial")
	}
}

// BenchmarkHerd: one b.Loop iteration is one trial (fresh cold key, 4
// processes × 50 goroutines, loader 50 ms). It reports loader calls per
// trial and the callers' p50/p99 latency; memo must load exactly once.
// With -benchtime 1x this is a quick end-to-end check of cmd/herd.
func BenchmarkHerd(b *testing.B) {
	for _, lib := range []string{libMemo, libGoCache} {
		b.Run(lib, func(b *testing.B) {
			cfg, newCmd := testConfig(b)
			cfg.Lib = lib
			h, err := startHerd(b.Context(), cfg, newCmd)
			if err != nil {
				b.Fatal(err)
			}
			defer h.close()
			var (
				loads int64
				lat   []int64
				n     int
			)
			for b.Loop() {
				n++
				r, err := h.trial(b.Context(), n)
				if err != nil {
					b.Fatal(err)
				}
				if r.Errors > 0 {
					b.Fatalf("trial %d: %d calls failed", n, r.Errors)
				}
				if lib == libMemo && r.Loads != 1 {
					b.Fatalf("trial %d: memo ran the loader %d times, want 1", n, r.Loads)
				}
				loads += r.Loads
				lat = append(lat, r.LatenciesNS...)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(loads)/float64(n), "loads/trial")
			b.ReportMetric(float64(percentile(lat, 0.5))/1e6, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99))/1e6, "p99-ms")
		})
	}
}
