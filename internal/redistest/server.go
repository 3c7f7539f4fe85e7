// Package redistest starts real redis-server processes for tests: one
// standalone server shared per test binary, a 3-master Redis Cluster, or N
// independent servers (for Redlock). Servers listen on free loopback ports,
// keep nothing on disk (--save "" --appendonly no) and die with the test
// binary. Fault helpers pause (SIGSTOP), resume, kill and restart a server;
// cluster helpers move a slot, or leave its migration half finished.
//
// When redis-server is not on PATH, tests are skipped with an install hint,
// except under CI=true, where they fail.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Require skips tb (or fails it under CI=true) when redis-server is missing,
// and returns the path of redis-server otherwise.
func Require(tb testing.TB) string {
	tb.Helper()
	path, err := lookPath("redis-server")
	if err == nil {
		return path
	}
	const hint = "redis-server not found on PATH; install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis)"
	if os.Getenv("CI") == "true" {
		tb.Fatalf("redistest: %s (CI=true: a missing redis-server is a failure)", hint)
	}
	tb.Skipf("redistest: %s", hint)
	return ""
}

// Server is one redis-server process on a loopback port.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr string
	// Port is the TCP port the server listens on.
	Port int

	bin   string
	dir   string
	conf  string // config file passed first, if set (Sentinel)
	extra []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

// Start starts a standalone redis-server for tb and stops it in tb's
// cleanup. extra are additional redis-server arguments.
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	s, err := start(Require(tb), tb.TempDir(), extra)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(s.stop)
	return s
}

// StartN starts n independent standalone servers (for example the nodes of
// a Redlock quorum) and stops them in tb's cleanup.
func StartN(tb testing.TB, n int) []*Server {
	tb.Helper()
	out := make([]*Server, n)
	for i := range out {
		out[i] = Start(tb)
	}
	return out
}

func start(bin, dir string, extra []string) (*Server, error) {
	return startConf(bin, dir, "", extra)
}

func startConf(bin, dir, conf string, extra []string) (*Server, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{
			Addr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port:  port,
			bin:   bin,
			dir:   filepath.Join(dir, strconv.Itoa(port)),
			conf:  conf,
			extra: extra,
		}
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return nil, err
		}
		if lastErr = s.launch(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// launch starts the process on s.Port and waits for PING.
func (s *Server) launch() error {
	args := []string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	args = append(args, s.extra...)
	if s.conf != "" {
		args = append([]string{s.conf}, args...)
	}
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.paused = cmd, done, false
	s.mu.Unlock()

	if err := s.waitPing(done, cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		<-done
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		return fmt.Errorf("redis-server on %s did not answer PING: %v\n%s", s.Addr, err, tail(string(log), 2000))
	}
	return nil
}

// waitPing waits until the server on s.Addr answers PING and is the
// process pid: another test binary may have started its own server on the
// port between freePort and our bind. Ours then fails to bind and exits,
// but the other one answers the PING first; taking it for ours, a test
// used a server it did not own (its Pause stopped nothing; writes on
// "frozen" Redis succeeded whenever the other binary had not frozen its
// own).
func (s *Server) waitPing(done <-chan struct{}, pid int) error {
	deadline := time.Now().Add(startTimeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("process exited")
		default:
		}
		if err = ping(s.Addr); err == nil {
			got, err := serverPID(s.Addr)
			if err != nil {
				return err
			}
			if got != pid {
				return fmt.Errorf("port %d is served by another process (pid %d, ours is %d)", s.Port, got, pid)
			}
			return nil
		}
		time.Sleep(10 * time.Millisecond) // polling a starting process: no event to wait on
	}
	return err
}

// serverPID asks the server on addr for its process id (INFO server,
// over a raw connection like ping).
func serverPID(addr string) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("INFO server\r\n")); err != nil {
		return 0, err
	}
	// The reply is one bulk string: "$<length>\r\n<text>\r\n".
	r := bufio.NewReader(conn)
	head, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if err != nil || !strings.HasPrefix(head, "$") {
		return 0, fmt.Errorf("INFO server: unexpected reply %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("INFO server: no process_id")
}

// ping sends an inline PING over a raw connection (no client library, so no
// retry logging while the server starts).
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(buf[:n]), "+PONG") {
		return fmt.Errorf("unexpected reply %q", buf[:n])
	}
	return nil
}

// Client returns a go-redis client for s with ContextTimeoutEnabled (so a
// context deadline bounds every call, even against a paused server). It is
// closed in tb's cleanup.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Pause freezes the server with SIGSTOP: connections stay open, nothing is
// answered. Resume it with [Server.Resume]; cleanup resumes it too.
func (s *Server) Pause(tb testing.TB) {
	tb.Helper()
	s.signal(tb, syscall.SIGSTOP)
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	s.signal(tb, syscall.SIGCONT)
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
}

// Kill stops the server with SIGKILL and waits for it to exit. Its data is
// lost.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart kills the server (if running) and starts a new, empty one on the
// same port, waiting until it answers PING.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Kill(tb)
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond) // port still in TIME_WAIT/closing; retry
	}
	tb.Fatalf("redistest: restart %s: %v", s.Addr, err)
}

func (s *Server) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		tb.Fatalf("redistest: %s not running", s.Addr)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("redistest: signal %v to %s: %v", sig, s.Addr, err)
	}
}

func (s *Server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill() // SIGKILL also ends a SIGSTOPped process
	<-done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

var prefixSeq atomic.Int64

// Prefix returns a key prefix unique to this call: tb's name (with
// characters that are special in keys or glob patterns replaced), the
// process id and a sequence number (so -count=N runs and concurrent test
// binaries do not see each other's keys), ending in ':'. Tests that share
// one server isolate their keys with it.
func Prefix(tb testing.TB) string {
	r := strings.NewReplacer("/", ".", " ", "_", "*", "_", "?", "_", "[", "_", "]", "_", "{", "_", "}", "_", "\\", "_", ":", "_")
	return fmt.Sprintf("t.%s.%d.%d:", r.Replace(tb.Name()), os.Getpid(), prefixSeq.Add(1))
}
