package main

import (
	"bufio"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// nodeInfo is what stats reads from INFO on one master.
type nodeInfo struct {
	addr, version, policy string
	used, max             int64
	hits, misses, evicted int64
}

// parseInfo splits the INFO text of one or more nodes (each after a
// "# Node <addr>" line on a Cluster) into nodes.
func parseInfo(text, addr string) []nodeInfo {
	var out []nodeInfo
	cur := &nodeInfo{addr: addr}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if a, ok := strings.CutPrefix(line, "# Node "); ok {
			if cur.version != "" {
				out = append(out, *cur)
			}
			cur = &nodeInfo{addr: a}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "redis_version":
			cur.version = v
		case "maxmemory_policy":
			cur.policy = v
		case "used_memory":
			cur.used = n
		case "maxmemory":
			cur.max = n
		case "keyspace_hits":
			cur.hits = n
		case "keyspace_misses":
			cur.misses = n
		case "evicted_keys":
			cur.evicted = n
		}
	}
	if cur.version != "" {
		out = append(out, *cur)
	}
	return out
}

// ttlBuckets are the upper bounds of the TTL histogram.
var ttlBuckets = []struct {
	max   time.Duration
	label string
}{
	{time.Minute, "< 1m"},
	{10 * time.Minute, "1m – 10m"},
	{time.Hour, "10m – 1h"},
	{24 * time.Hour, "1h – 1d"},
	{1<<63 - 1, "≥ 1d"},
}

// keyStats is the result of the sampling scan.
type keyStats struct {
	scanned    int
	perNS      map[string]map[memo.StoredKeyRole]int // "ns v1" → role → count
	locks      int
	foreign    int
	hist       []int
	noTTL      int
	noTTLByDes int      // generation and counter keys without TTL: explained, not errors
	noTTLBad   []string // examples of other keys without TTL
	noTTLBadN  int
}

func stats(e *env, args []string) error {
	fs := newFlags(e, "stats", "stats [--sample n]")
	var f connFlags
	f.register(fs)
	sample := fs.Int("sample", 10000, "scan at most this many keys for the per-namespace counts and TTLs")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	if *sample <= 0 {
		return usageErrorf("--sample %d: want > 0", *sample)
	}
	s, err := connect(e, &f)
	if err != nil {
		return err
	}
	defer s.close()
	info, err := s.b.Info(e.ctx, "server", "memory", "stats")
	if err != nil {
		return s.fail(err)
	}
	nodes := parseInfo(info, s.addr)
	total, err := s.b.KeyCount(e.ctx)
	if err != nil {
		return s.fail(err)
	}
	ks, err := sampleKeys(e, s, &f, *sample, total)
	if err != nil {
		return err
	}
	printServer(e, s, nodes, total)
	printKeys(e, ks, total)
	return nil
}

func printServer(e *env, s *server, nodes []nodeInfo, total int64) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "server:\t%s, %d master(s)\n", s.describe(), len(nodes))
	var hits, misses, evicted int64
	policies := map[string]bool{}
	for _, n := range nodes {
		limit := "no maxmemory"
		if n.max > 0 {
			limit = fmt.Sprintf("maxmemory %s", fmtSize(n.max))
		}
		fmt.Fprintf(tw, "  %s:\tredis %s, memory %s, %s, policy %s\n", n.addr, n.version, fmtSize(n.used), limit, n.policy)
		hits, misses, evicted = hits+n.hits, misses+n.misses, evicted+n.evicted
		policies[n.policy] = true
	}
	fmt.Fprintf(tw, "keys:\t%d\n", total)
	if hits+misses > 0 {
		fmt.Fprintf(tw, "hit ratio:\t%.1f%% (%d hits, %d misses since start, all keys of the server)\n",
			100*float64(hits)/float64(hits+misses), hits, misses)
	} else {
		fmt.Fprintf(tw, "hit ratio:\tno reads yet\n")
	}
	fmt.Fprintf(tw, "evicted keys:\t%d\n", evicted)
	_ = tw.Flush()
	for p := range policies {
		if p != "" && p != "noeviction" {
			fmt.Fprintf(e.stdout, "warning: maxmemory-policy %s can evict lock keys (%s…, they have a TTL): "+
				"under memory pressure a lock can vanish early and let a second holder in; use fencing tokens, "+
				"or give locks their own Redis with noeviction\n", p, lockx.DefaultPrefix)
		}
	}
}

// sampleKeys scans up to limit keys and classifies them.
func sampleKeys(e *env, s *server, f *connFlags, limit int, total int64) (*keyStats, error) {
	ks := &keyStats{perNS: map[string]map[memo.StoredKeyRole]int{}, hist: make([]int, len(ttlBuckets))}
	bar := e.progress(f.progress, min(int64(limit), max(total, 1)), "sampling keys")
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		pipe := s.client.Pipeline()
		cmds := make([]interface{ Val() time.Duration }, len(batch))
		for i, k := range batch {
			cmds[i] = pipe.PTTL(e.ctx, k)
		}
		if _, err := pipe.Exec(e.ctx); err != nil {
			return err
		}
		for i, k := range batch {
			ks.classify(k, cmds[i].Val())
		}
		_ = bar.Add(len(batch))
		batch = batch[:0]
		return nil
	}
	err := s.b.Scan(e.ctx, "*", func(key string) error {
		if ks.scanned+len(batch) >= limit {
			return errStop
		}
		batch = append(batch, key)
		if len(batch) >= 256 {
			return flush()
		}
		return nil
	})
	if err == nil || errors.Is(err, errStop) {
		err = flush()
	}
	_ = bar.Finish()
	if err != nil {
		return nil, s.fail(err)
	}
	return ks, nil
}

// classify counts one key with its TTL (-1 none, -2 gone).
func (ks *keyStats) classify(key string, ttl time.Duration) {
	if ttl == -2 { // expired or deleted since the scan saw it
		return
	}
	ks.scanned++
	sk, ok := memo.ParseStoredKey(key)
	switch {
	case ok:
		name := fmt.Sprintf("%s\tv%d", printable(sk.Namespace), sk.Version)
		if ks.perNS[name] == nil {
			ks.perNS[name] = map[memo.StoredKeyRole]int{}
		}
		ks.perNS[name][sk.Role]++
	case strings.HasPrefix(key, lockx.DefaultPrefix):
		ks.locks++
	default:
		ks.foreign++
	}
	if ttl < 0 {
		ks.noTTL++
		if ok && sk.Role != memo.RoleData {
			ks.noTTLByDes++
			return
		}
		ks.noTTLBadN++
		if len(ks.noTTLBad) < 5 {
			ks.noTTLBad = append(ks.noTTLBad, key)
		}
		return
	}
	for i, b := range ttlBuckets {
		if ttl < b.max {
			ks.hist[i]++
			break
		}
	}
}

func printKeys(e *env, ks *keyStats, total int64) {
	fmt.Fprintf(e.stdout, "\nsampled %d of %d key(s) with SCAN\n", ks.scanned, total)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "namespace\tversion\tentries\tgeneration keys\tcounters")
	names := make([]string, 0, len(ks.perNS))
	for n := range ks.perNS {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		r := ks.perNS[n]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", n, r[memo.RoleData], r[memo.RoleGeneration], r[memo.RoleCounter])
	}
	fmt.Fprintf(tw, "(lock keys)\t\t%d\t\t\n", ks.locks)
	fmt.Fprintf(tw, "(not cachekit)\t\t%d\t\t\n", ks.foreign)
	_ = tw.Flush()
	fmt.Fprintln(e.stdout, "\nTTL histogram:")
	tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for i, b := range ttlBuckets {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", b.label, ks.hist[i], strings.Repeat("█", bar(ks.hist[i], ks.scanned)))
	}
	fmt.Fprintf(tw, "  no TTL\t%d\t%s\n", ks.noTTL, strings.Repeat("█", bar(ks.noTTL, ks.scanned)))
	_ = tw.Flush()
	if ks.noTTLByDes > 0 {
		fmt.Fprintf(e.stdout, "%d key(s) without TTL are namespace generations written before they expired (a current memo node sets their expiry when it next reads them) or counters created with backend.NoExpiry\n", ks.noTTLByDes)
	}
	if ks.noTTLBadN > 0 {
		fmt.Fprintf(e.stdout, "warning: %d other key(s) have no TTL (a cache should never have them), e.g. %s\n",
			ks.noTTLBadN, strings.Join(quoteAll(ks.noTTLBad), ", "))
	}
}

func bar(n, total int) int {
	if total == 0 {
		return 0
	}
	return (n*40 + total - 1) / total
}

func fmtSize(b int64) string {
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%d B", b)
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	case b < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}
