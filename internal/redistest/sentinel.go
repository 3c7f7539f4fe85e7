package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the Sentinel of [StartSentinel]
// monitors.
const SentinelMaster = "mymaster"

// Sentinel is a master, one replica and one Sentinel watching them: enough
// for a failover client to find the master and follow a failover.
type Sentinel struct {
	Master   *Server
	Replica  *Server
	Sentinel *Server
}

// StartSentinel starts a master, a replica and a Sentinel (quorum 1) and
// stops them in tb's cleanup. It returns once the Sentinel reports the
// master, the replica is in sync, and the Sentinel knows the replica as
// one it could promote (SENTINEL FAILOVER works at once).
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	bin := Require(tb)
	dir := tb.TempDir()
	s := &Sentinel{Master: Start(tb)}
	s.Replica = Start(tb, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port))
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds %s 1000\n"+
		"sentinel failover-timeout %s 5000\n", SentinelMaster, s.Master.Port, SentinelMaster, SentinelMaster)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	sen, err := startConf(bin, dir, conf, []string{"--sentinel"})
	if err != nil {
		tb.Fatalf("redistest: sentinel: %v", err)
	}
	tb.Cleanup(sen.stop)
	s.Sentinel = sen

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr, ContextTimeoutEnabled: true})
	defer sc.Close()
	rc := redis.NewClient(&redis.Options{Addr: s.Replica.Addr, ContextTimeoutEnabled: true})
	defer rc.Close()
	for {
		addr, err1 := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
		info, err2 := rc.Info(ctx, "replication").Result()
		replicas, err3 := sc.Replicas(ctx, SentinelMaster).Result()
		if err1 == nil && len(addr) == 2 && addr[1] == strconv.Itoa(s.Master.Port) &&
			err2 == nil && containsLine(info, "master_link_status:up") &&
			err3 == nil && promotable(replicas, s.Replica.Port) {
			return s
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: sentinel not ready: %v %v %v %v", err1, err2, err3, replicas)
		case <-time.After(20 * time.Millisecond): // polling replication state: no event to wait on
		}
	}
}

// promotable reports whether a SENTINEL REPLICAS reply lists the replica
// on port as one the Sentinel would promote: flags exactly "slave" (not
// down or disconnected) and its link to the master "ok". The Sentinel
// learns of a replica from the master's INFO, which it reads every 10 s,
// and then connects to the replica: until both have happened, SENTINEL
// FAILOVER answers NOGOODSLAVE (TestSentinelFailover under load).
func promotable(replicas []map[string]string, port int) bool {
	for _, r := range replicas {
		if r["port"] == strconv.Itoa(port) && r["flags"] == "slave" && r["master-link-status"] == "ok" {
			return true
		}
	}
	return false
}

// FailoverClient returns a go-redis failover client for s with
// ContextTimeoutEnabled, closed in tb's cleanup.
func (s *Sentinel) FailoverClient(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            SentinelMaster,
		SentinelAddrs:         []string{s.Sentinel.Addr},
		ContextTimeoutEnabled: true,
	})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func containsLine(s, line string) bool {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		l := s[:i]
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		if l == line {
			return true
		}
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return false
}
