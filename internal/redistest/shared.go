package redistest

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

var shared struct {
	mu      sync.Mutex
	server  *Server
	cluster *Cluster
	dirs    []string
	err     error
}

// Main runs the tests of a package (call it from TestMain) and then stops
// the servers started by [Shared] and [SharedCluster]:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// Servers die with the test binary in any case; Main stops them early and
// removes their directories.
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if shared.server != nil {
		shared.server.stop()
	}
	if shared.cluster != nil {
		for _, n := range shared.cluster.Nodes {
			n.stop()
		}
	}
	for _, d := range shared.dirs {
		_ = os.RemoveAll(d)
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// Shared returns the standalone server shared by every test of the package,
// starting it on first use. Tests isolate their keys with [Prefix]; a test
// that pauses, kills or flushes a server must use its own ([Start]).
func Shared(tb testing.TB) *Server {
	tb.Helper()
	bin := Require(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.server == nil {
		dir, err := os.MkdirTemp("", "redistest-")
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		shared.dirs = append(shared.dirs, dir)
		s, err := start(bin, dir, nil)
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		shared.server = s
	}
	return shared.server
}

// SharedCluster returns the 3-master cluster shared by every test of the
// package, starting it on first use.
func SharedCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin := Require(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.err != nil {
		tb.Fatalf("redistest: shared cluster: %v", shared.err)
	}
	if shared.cluster == nil {
		dir, err := os.MkdirTemp("", "redistest-cluster-")
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		shared.dirs = append(shared.dirs, dir)
		c, err := startCluster(bin, dir, 3)
		if err != nil {
			shared.err = err
			tb.Fatalf("redistest: %v", err)
		}
		shared.cluster = c
	}
	return shared.cluster
}

// lookPath is exec.LookPath, kept as a variable for tests of Require.
var lookPath = exec.LookPath
