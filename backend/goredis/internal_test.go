package goredis

import (
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

func TestExpiration(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		ms   int64
		want time.Duration
	}{
		{time.Nanosecond, 1, time.Millisecond},
		{999 * time.Microsecond, 1, time.Millisecond},
		{time.Millisecond, 1, time.Millisecond},
		{time.Millisecond + 1, 2, 2 * time.Millisecond},
		{time.Minute, 60000, time.Minute},
		{backend.NoExpiry, 0, 0},
	} {
		if got := millis(tc.ttl); got != tc.ms {
			t.Errorf("millis(%v) = %d, want %d", tc.ttl, got, tc.ms)
		}
		if got := expiration(tc.ttl); got != tc.want {
			t.Errorf("expiration(%v) = %v, want %v", tc.ttl, got, tc.want)
		}
	}
}

func TestParseMemory(t *testing.T) {
	m, err := parseMemory("# Memory\r\nused_memory:1024\r\nused_memory_peak:2048\r\nmaxmemory:0\r\nmem_fragmentation_ratio:1.50\r\n")
	if err != nil || m.UsedMemory != 1024 || m.UsedMemoryPeak != 2048 || m.MaxMemory != 0 || m.FragmentationRatio != 1.5 {
		t.Fatalf("parseMemory = %+v, %v", m, err)
	}
	if _, err := parseMemory("# Server\r\n"); err == nil {
		t.Fatalf("parseMemory(no memory fields) = nil error")
	}
	if _, err := parseMemory("used_memory:x\r\n"); err == nil {
		t.Fatalf("parseMemory(bad number) = nil error")
	}
}

func TestGroupBySlot(t *testing.T) {
	g := groupBySlot([]string{"{a}1", "b", "{a}2", "b"})
	if len(g) != 2 || len(g[0]) != 2 || len(g[1]) != 2 || g[0][1] != "{a}2" {
		t.Fatalf("groupBySlot = %q, want [[{a}1 {a}2] [b b]]", g)
	}
}
