package goredis

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// MemoryStats is the memory use of one master, parsed from INFO memory.
type MemoryStats struct {
	// Addr is the node's address.
	Addr string
	// UsedMemory is used_memory: bytes allocated by Redis.
	UsedMemory int64
	// UsedMemoryPeak is used_memory_peak.
	UsedMemoryPeak int64
	// MaxMemory is maxmemory; 0 means no limit.
	MaxMemory int64
	// FragmentationRatio is mem_fragmentation_ratio (RSS / used memory).
	FragmentationRatio float64
}

// Ping sends PING to every master and returns the first error.
func (b *Backend) Ping(ctx context.Context) error {
	nodes, err := b.masters(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := n.Ping(ctx).Err(); err != nil {
			return b.fail(ctx, "PING", n.Options().Addr, err)
		}
	}
	return nil
}

// Info returns the INFO text of sections (all default sections when none
// are given). On a Cluster or Ring it returns every master's INFO, each
// preceded by a "# Node <addr>" line.
func (b *Backend) Info(ctx context.Context, sections ...string) (string, error) {
	nodes, err := b.masters(ctx)
	if err != nil {
		return "", err
	}
	if b.topo == standalone {
		s, err := nodes[0].Info(ctx, sections...).Result()
		if err != nil {
			return "", b.fail(ctx, "INFO", "", err)
		}
		return s, nil
	}
	var sb strings.Builder
	for _, n := range nodes {
		s, err := n.Info(ctx, sections...).Result()
		if err != nil {
			return "", b.fail(ctx, "INFO", n.Options().Addr, err)
		}
		fmt.Fprintf(&sb, "# Node %s\r\n%s\r\n", n.Options().Addr, s)
	}
	return sb.String(), nil
}

// MemoryStats returns the memory use of every master (one entry for a
// standalone server), sorted by address.
func (b *Backend) MemoryStats(ctx context.Context) ([]MemoryStats, error) {
	nodes, err := b.masters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MemoryStats, 0, len(nodes))
	for _, n := range nodes {
		s, err := n.Info(ctx, "memory").Result()
		if err != nil {
			return nil, b.fail(ctx, "INFO", n.Options().Addr, err)
		}
		m, err := parseMemory(s)
		if err != nil {
			return nil, fmt.Errorf("goredis: INFO memory of %s: %w", n.Options().Addr, err)
		}
		m.Addr = n.Options().Addr
		out = append(out, m)
	}
	return out, nil
}

func parseMemory(info string) (MemoryStats, error) {
	var m MemoryStats
	found := 0
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		var err error
		switch name {
		case "used_memory":
			m.UsedMemory, err = strconv.ParseInt(val, 10, 64)
		case "used_memory_peak":
			m.UsedMemoryPeak, err = strconv.ParseInt(val, 10, 64)
		case "maxmemory":
			m.MaxMemory, err = strconv.ParseInt(val, 10, 64)
		case "mem_fragmentation_ratio":
			m.FragmentationRatio, err = strconv.ParseFloat(val, 64)
		default:
			continue
		}
		if err != nil {
			return m, fmt.Errorf("field %s: %w", name, err)
		}
		found++
	}
	if found == 0 {
		return m, fmt.Errorf("no memory fields")
	}
	return m, nil
}

// KeyCount returns the number of keys in the database: DBSIZE summed over
// every master.
func (b *Backend) KeyCount(ctx context.Context) (int64, error) {
	nodes, err := b.masters(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, n := range nodes {
		c, err := n.DBSize(ctx).Result()
		if err != nil {
			return 0, b.fail(ctx, "DBSIZE", n.Options().Addr, err)
		}
		total += c
	}
	return total, nil
}

// KeysDevOnly returns every key matching pattern, running KEYS on every
// master. Use [Backend.Scan] in production code.
//
// WARNING: KEYS walks the whole keyspace in one command and blocks the
// server meanwhile (seconds on a large database). It exists for
// development and debugging only.
func (b *Backend) KeysDevOnly(ctx context.Context, pattern string) ([]string, error) {
	if err := b.checkPattern(ctx, pattern); err != nil {
		return nil, err
	}
	nodes, err := b.masters(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nodes {
		keys, err := n.Keys(ctx, pattern).Result()
		if err != nil {
			return nil, b.fail(ctx, "KEYS", pattern, err)
		}
		out = append(out, keys...)
	}
	return out, nil
}
