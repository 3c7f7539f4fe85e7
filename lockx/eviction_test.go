package lockx

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}

// find returns the records at level whose message contains msg, each as
// its attributes.
func (h *logRecorder) find(level slog.Level, msg string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.records {
		if r.Level != level || !strings.Contains(r.Message, msg) {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, attrs)
	}
	return out
}

const evictsMsg = "can evict keys"

// TestEvictionPolicyWarns starts a server with each maxmemory-policy: New
// warns about every policy that can evict lock keys (and names the server
// and policy), and fails with StrictEviction; noeviction, or no memory
// limit, is silent.
func TestEvictionPolicyWarns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy    string
		maxmemory string
		evicts    bool
	}{
		{"allkeys-lru", "64mb", true},
		{"allkeys-lfu", "64mb", true},
		{"allkeys-random", "64mb", true},
		{"volatile-lru", "64mb", true},
		{"volatile-lfu", "64mb", true},
		{"volatile-random", "64mb", true},
		{"volatile-ttl", "64mb", true},
		{"noeviction", "64mb", false},
		{"allkeys-lru", "0", false}, // no limit: nothing is ever evicted
	}
	for _, tt := range tests {
		t.Run(tt.policy+"/"+tt.maxmemory, func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, "--maxmemory-policy", tt.policy, "--maxmemory", tt.maxmemory)
			logs := &logRecorder{}
			o := &Options{Logger: slog.New(logs)}
			if _, err := New(s.Client(t), o); err != nil {
				t.Fatalf("New = %v, want a Locker (warning only)", err)
			}
			warned := logs.find(slog.LevelWarn, evictsMsg)
			if !tt.evicts {
				if len(warned) != 0 {
					t.Fatalf("New logged %v, want no eviction warning", warned)
				}
			} else {
				if len(warned) != 1 {
					t.Fatalf("New logged %d eviction warnings, want 1", len(warned))
				}
				if w := warned[0]; w["addr"] != s.Addr || w["maxmemory-policy"] != tt.policy {
					t.Errorf("warning attrs = %v, want addr %s and maxmemory-policy %s", w, s.Addr, tt.policy)
				}
			}

			o.StrictEviction = true
			_, err := New(s.Client(t), o)
			switch {
			case !tt.evicts && err != nil:
				t.Fatalf("strict New = %v, want nil", err)
			case tt.evicts && !errors.Is(err, ErrEvictionPolicy):
				t.Fatalf("strict New = %v, want ErrEvictionPolicy", err)
			case tt.evicts && (!strings.Contains(err.Error(), s.Addr) || !strings.Contains(err.Error(), tt.policy)):
				t.Errorf("strict New = %q, want the address %s and the policy %s named", err, s.Addr, tt.policy)
			}
		})
	}
}

// TestEvictionCheckRefused: a server that refuses CONFIG (renamed, as
// managed Redis does) is logged at debug level and New goes on, even
// with StrictEviction.
func TestEvictionCheckRefused(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, "--rename-command", "CONFIG", "CONFIG-"+runID)
	logs := &logRecorder{}
	l, err := New(s.Client(t), &Options{Logger: slog.New(logs), StrictEviction: true})
	if err != nil {
		t.Fatalf("New with CONFIG refused = %v, want a Locker", err)
	}
	if got := logs.find(slog.LevelDebug, "CONFIG GET refused"); len(got) != 1 || got[0]["addr"] != s.Addr {
		t.Errorf("debug records = %v, want one naming %s", got, s.Addr)
	}
	if got := logs.find(slog.LevelWarn, ""); len(got) != 0 {
		t.Errorf("warnings = %v, want none", got)
	}
	lk, err := l.Lock(t.Context(), "x")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	_ = lk.Unlock(t.Context())
}

// TestEvictionPolicyCluster: every master of a Cluster is checked; one
// evicting master is enough for the warning and the strict error.
func TestEvictionPolicyCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	ctx := t.Context()
	evicting := cl.Nodes[1]
	admin := evicting.Client(t)
	if err := admin.ConfigSet(ctx, "maxmemory", "64mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "volatile-ttl").Err(); err != nil {
		t.Fatal(err)
	}
	logs := &logRecorder{}
	if _, err := New(cl.Client(t), &Options{Logger: slog.New(logs)}); err != nil {
		t.Fatalf("New = %v", err)
	}
	if got := logs.find(slog.LevelWarn, evictsMsg); len(got) != 1 || got[0]["addr"] != evicting.Addr {
		t.Errorf("eviction warnings = %v, want one naming %s", got, evicting.Addr)
	}
	_, err := NewRedlock([]redis.UniversalClient{cl.Client(t)}, &Options{Logger: quietLogger, StrictEviction: true})
	if !errors.Is(err, ErrEvictionPolicy) || !strings.Contains(err.Error(), evicting.Addr) {
		t.Errorf("strict New = %v, want ErrEvictionPolicy naming %s", err, evicting.Addr)
	}
}
