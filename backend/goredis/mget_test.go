package goredis

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// streamReply feeds the next RESP reply on rd to w as go-redis' RawWriteToCmd
// does (proto.Reader.readRawReplyWriteTo, go-redis v9.23): each header line
// without its CRLF, then the CRLF, then a bulk string's bytes and CRLF with
// io.CopyN (which hands w.ReadFrom a limited reader over rd); arrays
// recursively. It returns the first error, from rd or from w.
func streamReply(rd *bufio.Reader, w io.Writer) error {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) <= 2 || line[len(line)-2] != '\r' {
		return fmt.Errorf("invalid reply %q", line)
	}
	line = line[:len(line)-2]
	if _, err := w.Write(line); err != nil {
		return err
	}
	if _, err := w.Write([]byte("\r\n")); err != nil {
		return err
	}
	switch line[0] {
	case '$', '*':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil || n < -1 {
			return fmt.Errorf("invalid length %q", line)
		}
		if n == -1 {
			return nil
		}
		if line[0] == '$' {
			_, err := io.CopyN(w, rd, int64(n)+2)
			return err
		}
		for range n {
			if err := streamReply(rd, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// mgetReply encodes vals as a MGET reply (nil: a missing key), in RESP3
// nulls or RESP2 ones.
func mgetReply(vals [][]byte, resp3 bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(vals))
	for _, v := range vals {
		switch {
		case v == nil && resp3:
			b.WriteString("_\r\n")
		case v == nil:
			b.WriteString("$-1\r\n")
		default:
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(v), v)
		}
	}
	return b.Bytes()
}

// readMGET parses reply for n keys with an mgetReader bounded by max.
func readMGET(reply []byte, n, max, hint int) ([][]byte, *mgetReader, error) {
	out := make([][]byte, n)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	r := &mgetReader{max: max, idx: idx, out: out, hint: hint, arr: -1, want: -1}
	err := streamReply(bufio.NewReaderSize(bytes.NewReader(reply), 16), r)
	return out, r, err
}

// TestMGETReader: values, empty values and nulls (both RESP versions) land
// in order, each with its capacity ending at its length; a value over max
// stops the read at its header with errOversizedReply, before its bytes
// are read; an error reply, a short array and a stray type are not done.
func TestMGETReader(t *testing.T) {
	vals := [][]byte{[]byte("a"), nil, {}, bytes.Repeat([]byte("x"), 100), []byte("b\r\nc")}
	for _, resp3 := range []bool{false, true} {
		for _, hint := range []int{0, 1, 1000} {
			got, r, err := readMGET(mgetReply(vals, resp3), len(vals), 100, hint)
			if err != nil || !r.done() {
				t.Fatalf("resp3 %v hint %d: err %v, done %v", resp3, hint, err, r.done())
			}
			for i := range vals {
				if (got[i] == nil) != (vals[i] == nil) || !bytes.Equal(got[i], vals[i]) || cap(got[i]) != len(got[i]) {
					t.Fatalf("resp3 %v hint %d: value %d = %q (nil %v, cap %d), want %q", resp3, hint, i, got[i], got[i] == nil, cap(got[i]), vals[i])
				}
			}
		}
	}

	big := append(vals, bytes.Repeat([]byte("o"), 101), []byte("after"))
	reply := mgetReply(big, true)
	rd := bufio.NewReaderSize(bytes.NewReader(reply), 16)
	out := make([][]byte, len(big))
	idx := []int{0, 1, 2, 3, 4, 5, 6}
	r := &mgetReader{max: 100, idx: idx, out: out, arr: -1, want: -1}
	if err := streamReply(rd, r); !errors.Is(err, errOversizedReply) {
		t.Fatalf("reply with a 101-byte value (max 100): %v, want errOversizedReply", err)
	}
	if r.done() || r.n != 5 {
		t.Fatalf("stopped after %d values (done %v), want at the 6th's header", r.n, r.done())
	}
	// Nothing of the oversized value was read: what is left starts with it.
	rest, _ := io.ReadAll(rd)
	if !bytes.HasPrefix(rest, big[5][:10]) || len(rest) < len(big[5]) {
		t.Fatalf("after the stop %d bytes are left, starting %q: the value was read", len(rest), rest[:min(len(rest), 10)])
	}

	for _, tc := range []struct {
		name  string
		reply string
		n     int
	}{
		{"error", "-MOVED 3999 127.0.0.1:6381\r\n", 2},
		{"tryagain", "-TRYAGAIN Multiple keys request during rehashing of slot\r\n", 2},
		{"short array", "*1\r\n$1\r\na\r\n", 2},
		{"long array", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 2},
		{"integer", "*2\r\n:1\r\n$1\r\na\r\n", 2},
		{"nested", "*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n", 2},
		{"not an array", "$1\r\na\r\n", 1},
		{"null array", "*-1\r\n", 1},
		{"bad crlf", "*1\r\n$1\r\naXY", 1},
		{"bad length", "*1\r\n$1x\r\na\r\n", 1},
	} {
		_, r, err := readMGET([]byte(tc.reply), tc.n, 100, 0)
		if r.done() {
			t.Errorf("%s: reply %q read as done (err %v)", tc.name, tc.reply, err)
		}
	}
}

// FuzzMGETReader: whatever the bytes, the reader never panics and never
// yields a value over max; a reply that it reads as done holds exactly the
// values a reference parse finds.
func FuzzMGETReader(f *testing.F) {
	f.Add(mgetReply([][]byte{[]byte("a"), nil, {}}, true), 3, 4)
	f.Add(mgetReply([][]byte{[]byte("abcdef"), nil}, false), 2, 4)
	f.Add([]byte("-ERR x\r\n"), 1, 4)
	f.Add([]byte("*2\r\n$3\r\nabc\r\n_\r\n"), 2, 3)
	f.Fuzz(func(t *testing.T, reply []byte, n, max int) {
		if n < 0 || n > 64 || max < 0 || max > 1<<16 {
			return
		}
		got, r, err := readMGET(reply, n, max, 8)
		for i, v := range got {
			if len(v) > max {
				t.Fatalf("value %d has %d bytes, max %d", i, len(v), max)
			}
		}
		if err != nil || !r.done() {
			return
		}
		want, ok := referenceMGET(reply, n)
		if !ok {
			t.Fatalf("reply %q read as done, but it is not a MGET reply of %d values", reply, n)
		}
		for i := range want {
			if (got[i] == nil) != (want[i] == nil) || !bytes.Equal(got[i], want[i]) {
				t.Fatalf("value %d = %q, want %q", i, got[i], want[i])
			}
		}
	})
}

// referenceMGET parses reply as an array of n bulk strings or nulls, the
// whole of it up to the array's end.
func referenceMGET(reply []byte, n int) ([][]byte, bool) {
	line := func() (string, bool) {
		i := bytes.Index(reply, []byte("\r\n"))
		if i < 0 {
			return "", false
		}
		l := string(reply[:i])
		reply = reply[i+2:]
		return l, true
	}
	h, ok := line()
	if !ok || h != "*"+strconv.Itoa(n) {
		return nil, false
	}
	out := make([][]byte, n)
	for i := range out {
		h, ok := line()
		switch {
		case !ok:
			return nil, false
		case h == "_" || h == "$-1":
			continue
		case len(h) < 2 || h[0] != '$':
			return nil, false
		}
		l, err := strconv.Atoi(h[1:])
		if err != nil || l < 0 || len(reply) < l+2 || reply[l] != '\r' || reply[l+1] != '\n' {
			return nil, false
		}
		out[i] = append([]byte{}, reply[:l]...)
		reply = reply[l+2:]
	}
	return out, true
}

// TestBigKeysOwnTheirKeys: a remembered key is a copy, not the caller's
// string: memo builds a batch's data keys as substrings of one allocation,
// which a remembered key would otherwise keep alive (up to 256 batches'
// worth of keys).
func TestBigKeysOwnTheirKeys(t *testing.T) {
	batch := strings.Repeat("k", 1<<20) // all of a batch's keys
	key := batch[100:110]
	var s bigKeys
	s.add(key)
	if !s.anyOf([]string{key}) {
		t.Fatal("the added key is not remembered")
	}
	if unsafe.StringData(s.order[0]) == unsafe.StringData(key) {
		t.Fatal("the remembered key shares the caller's memory (and keeps all of it alive)")
	}
	for k := range s.keys {
		if unsafe.StringData(k) == unsafe.StringData(key) {
			t.Fatal("the remembered key (map) shares the caller's memory")
		}
	}
}
