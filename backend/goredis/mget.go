package goredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// errOversizedReply stops the read of a MGET reply at the length header of
// a value over MaxValueBytes: go-redis then closes the connection, with
// the value still unread.
var errOversizedReply = errors.New("goredis: MGET reply holds a value over MaxValueBytes")

// errUnexpectedReply stops the read of a MGET reply that is not an array of
// bulk strings and nulls.
var errUnexpectedReply = errors.New("goredis: unexpected MGET reply")

// getManyStreamed fills out with the values of keys read by one MGET per
// group of keys (a hash slot on a Cluster, ScanCount keys otherwise), all
// in one pipeline, each reply parsed as it streams in by an mgetReader:
// every value's length is checked before any of its bytes are read, and a
// value over MaxValueBytes stops the read there (go-redis then closes the
// connection, the value unread). It reports whether it read every key; if
// not (an oversized value, an error reply such as MOVED or TRYAGAIN, a
// failed connection: MGET is sent once, never retried by go-redis), out
// is left empty and the caller reads the keys again another way. A MGET
// tells a missing key (null) from an empty value ($0) in the same reply,
// so no other command is needed.
func (b *Backend) getManyStreamed(ctx context.Context, keys []string, out [][]byte) (bool, error) {
	groups := b.readGroups(keys)
	readers := make([]mgetReader, len(groups))
	cmds := make([]redis.Cmder, len(groups))
	// One backing array for every MGET's arguments; a key goes as a
	// *string (which go-redis writes and routes like a string), which
	// boxes without allocating.
	args := make([]any, 0, len(keys)+len(groups))
	hint := int(b.valueHint.Load())
	for g, ix := range groups {
		start := len(args)
		args = append(args, "mget")
		for _, i := range ix {
			args = append(args, &keys[i])
		}
		readers[g] = mgetReader{max: b.opt.MaxValueBytes, idx: ix, out: out, hint: hint, arr: -1, want: -1}
		cmds[g] = redis.NewRawWriteToCmd(ctx, &readers[g], args[start:len(args):len(args)]...)
	}
	b.execPooled(ctx, cmds)
	complete := true
	total := 0
	for g := range readers {
		r := &readers[g]
		if r.oversized {
			// Not errors.Is(cmds[g].Err(), errOversizedReply): go-redis
			// gives the MGETs after a stopped one the same error, unread.
			b.bigKeys.add(keys[r.idx[r.n]])
		}
		if err := cmds[g].Err(); err != nil || !r.done() {
			complete = false
			if timedOut(ctx, err) {
				// The bounded read would wait as long again, or its
				// context has already ended: the batch fails now.
				clear(out)
				return false, b.fail(ctx, "MGET", keys[r.idx[0]], err)
			}
		}
		total += r.bytes
	}
	if !complete {
		clear(out)
		return false, nil
	}
	b.valueHint.Store(int64(total / len(keys)))
	return true, nil
}

// timedOut reports whether a read failed because its time ran out: the
// caller's context ended, or the connection's read or write timeout fired.
func timedOut(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// mgetReader parses one MGET reply, which go-redis' RawWriteToCmd streams
// to it: the array header, then each element's header line (its length:
// "$n", or a null: "$-1" in RESP2, "_" in RESP3) and, for a bulk string,
// its n bytes and CRLF through ReadFrom, which reads them straight from the
// connection's buffer into the reader's memory. A length over max fails
// the Write of the header, before a byte of the value is read. The values
// go to out at the indexes idx, as sub-slices of a few large allocations
// (each value's capacity ends at its length).
type mgetReader struct {
	max  int
	idx  []int    // the indexes in out of the keys of this MGET, in order
	out  [][]byte // where the values go
	hint int      // expected bytes per value, to size the first allocation

	arr   int    // the array's length (-1 before its header)
	n     int    // elements read so far
	want  int    // the length of the bulk string ReadFrom reads next (-1: none)
	buf   []byte // the free end of the current allocation
	bytes int    // value bytes read
	err   error  // an error reply (MOVED, TRYAGAIN, …): the keys are read again another way

	oversized bool // the read stopped at the header of element n, over max
}

// done reports whether the reply was read whole: every element, and no
// error reply.
func (r *mgetReader) done() bool {
	return r.err == nil && r.arr == len(r.idx) && r.n == r.arr && r.want < 0
}

// Write receives one header line of the reply (without its CRLF), or the
// CRLF that follows it.
func (r *mgetReader) Write(p []byte) (int, error) {
	if len(p) == 2 && p[0] == '\r' && p[1] == '\n' {
		return 2, nil
	}
	if len(p) == 0 {
		return 0, errUnexpectedReply
	}
	if r.arr < 0 {
		switch p[0] {
		case '*':
			n, ok := atoi(p[1:])
			if !ok || n != len(r.idx) {
				return 0, errUnexpectedReply
			}
			r.arr = n
			return len(p), nil
		case '-':
			// An error reply (MOVED, ASK, TRYAGAIN, LOADING, …): a line
			// of its own, nothing more to read on the connection.
			r.err = fmt.Errorf("goredis: MGET: %s", p[1:])
			return len(p), nil
		}
		return 0, errUnexpectedReply
	}
	if r.n >= r.arr || r.want >= 0 {
		return 0, errUnexpectedReply
	}
	switch {
	case p[0] == '_' && len(p) == 1, p[0] == '$' && len(p) == 3 && p[1] == '-' && p[2] == '1':
		r.n++ // a missing key: out keeps its nil
		return len(p), nil
	case p[0] == '$':
		n, ok := atoi(p[1:])
		if !ok {
			return 0, errUnexpectedReply
		}
		if n > r.max {
			r.oversized = true
			return 0, errOversizedReply
		}
		r.want = n
		return len(p), nil
	}
	return 0, errUnexpectedReply
}

// ReadFrom reads the bulk string whose header Write received: its bytes
// and the CRLF after them, all that src (go-redis' limited reader over the
// connection) holds.
func (r *mgetReader) ReadFrom(src io.Reader) (int64, error) {
	n := r.want
	if n < 0 {
		return 0, errUnexpectedReply
	}
	if cap(r.buf)-len(r.buf) < n+2 {
		// A new allocation, sized for the rest of the reply by the hint
		// (the values of the last read), never less than this value.
		size := max(n+2, (r.arr-r.n)*(r.hint+2))
		r.buf = make([]byte, 0, min(size, max(n+2, 1<<20)))
	}
	off := len(r.buf)
	r.buf = r.buf[:off+n+2]
	if _, err := io.ReadFull(src, r.buf[off:]); err != nil {
		return 0, err
	}
	if r.buf[off+n] != '\r' || r.buf[off+n+1] != '\n' {
		return 0, errUnexpectedReply
	}
	r.out[r.idx[r.n]] = r.buf[off : off+n : off+n]
	r.buf = r.buf[off+n+2:]
	r.n++
	r.want = -1
	r.bytes += n
	return int64(n + 2), nil
}

// atoi parses a non-negative decimal length.
func atoi(p []byte) (int, bool) {
	if len(p) == 0 || len(p) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// bigKeys remembers the keys a MGET found over MaxValueBytes (at most
// bigKeysMax of them, the oldest forgotten first), so that a GetMany of one
// of them reads with bounded GETRANGEs at once instead of having a MGET
// stopped and its connection closed every time. A bounded read that finds
// the key no longer oversized forgets it.
type bigKeys struct {
	n     atomic.Int32 // len(keys), read without the lock
	mu    sync.Mutex
	keys  map[string]struct{}
	order []string // the remembered keys, oldest first
}

const bigKeysMax = 256

// add remembers key.
func (s *bigKeys) add(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; ok {
		return
	}
	if s.keys == nil {
		s.keys = make(map[string]struct{})
	}
	key = strings.Clone(key) // not the caller's memory: memo's keys are substrings of a batch's
	if len(s.order) == bigKeysMax {
		delete(s.keys, s.order[0])
		s.order = slices.Delete(s.order, 0, 1)
	}
	s.order = append(s.order, key)
	s.keys[key] = struct{}{}
	s.n.Store(int32(len(s.keys)))
}

// anyOf reports whether one of keys is remembered.
func (s *bigKeys) anyOf(keys []string) bool {
	if s.n.Load() == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if _, ok := s.keys[k]; ok {
			return true
		}
	}
	return false
}

// forget forgets key if it is remembered.
func (s *bigKeys) forget(key string) {
	if s.n.Load() == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; !ok {
		return
	}
	delete(s.keys, key)
	i := slices.Index(s.order, key)
	s.order = slices.Delete(s.order, i, i+1)
	s.n.Store(int32(len(s.keys)))
}
