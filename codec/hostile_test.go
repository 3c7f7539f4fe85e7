package codec

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// hostileMsgpack are inputs whose headers claim far more than they contain.
var hostileMsgpack = []struct {
	name string
	data []byte
}{
	{"bin32-1GiB", []byte{0xc6, 0x40, 0x00, 0x00, 0x00}},
	{"str32-1GiB", []byte{0xdb, 0x40, 0x00, 0x00, 0x00}},
	{"ext32-1GiB", []byte{0xc9, 0x40, 0x00, 0x00, 0x00, 0x01}},
	{"array32-20M", []byte{0xdd, 0x01, 0x31, 0x2d, 0x00}},
	{"map32-20M", []byte{0xdf, 0x01, 0x31, 0x2d, 0x00}},
	{"array32-20M-padded", append([]byte{0xdd, 0x01, 0x31, 0x2d, 0x00}, make([]byte, 4096)...)},
	{"map32-20M-padded", append([]byte{0xdf, 0x01, 0x31, 0x2d, 0x00}, bytes.Repeat([]byte{0xa0, 0xc0}, 2048)...)},
	{"array16-of-bin32", []byte{0xdc, 0xff, 0xff, 0xc6, 0x40, 0x00, 0x00, 0x00}},
	{"map-key-str32", []byte{0x81, 0xdb, 0x40, 0x00, 0x00, 0x00, 0xc0}},
	{"nested-100k", append(bytes.Repeat([]byte{0x91}, 100_000), 0xc0)},
	{"nested-map-100k", append(bytes.Repeat([]byte{0x81, 0xa0}, 100_000), 0xc0)},
	{"reserved-c1", []byte{0xc1}},
}

// hostileTargets returns fresh targets of every shape the tests decode into.
func hostileTargets() []any {
	var a any
	var b []byte
	var s string
	var ints []int64
	var m map[string]any
	var p Post
	return []any{&a, &b, &s, &ints, &m, &p}
}

// allocated returns the bytes allocated while f runs. Callers must not be
// parallel: parallel tests are paused while sequential ones run.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocLimit is the memory a hostile input of n bytes may cost to reject.
func allocLimit(n int) uint64 { return 64<<10 + 16*uint64(n) }

func TestHostileMsgpackBounded(t *testing.T) {
	// Not parallel: measures allocations.
	for _, h := range hostileMsgpack {
		for _, target := range hostileTargets() {
			var err error
			n := allocated(func() { err = MsgPack.Unmarshal(h.data, target) })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Unmarshal(%s, %T) = %v, want ErrCorrupt", h.name, target, err)
			}
			if limit := allocLimit(len(h.data)); n > limit {
				t.Errorf("Unmarshal(%s, %T) allocated %d bytes, want <= %d", h.name, target, n, limit)
			}
		}
	}
}

func TestHostileEnvelopeBounded(t *testing.T) {
	// Not parallel: measures allocations. The envelope is valid (correct
	// checksum); only its payload is hostile.
	for _, h := range hostileMsgpack {
		env := finish(nil, []byte{magic0, magic1, version, idMsgPack, 0, 0, 0, 0, 0, 0, 0}, h.data)
		for _, target := range hostileTargets() {
			var err error
			n := allocated(func() { _, err = Decode(env, target) })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Decode(envelope(%s), %T) = %v, want ErrCorrupt", h.name, target, err)
			}
			if limit := allocLimit(len(env)); n > limit {
				t.Errorf("Decode(envelope(%s), %T) allocated %d bytes, want <= %d", h.name, target, n, limit)
			}
		}
	}
}

func TestMsgpackDepthLimit(t *testing.T) {
	t.Parallel()
	nested := func(depth int) []byte {
		return append(bytes.Repeat([]byte{0x91}, depth), 0x01)
	}
	var v any
	if err := MsgPack.Unmarshal(nested(MaxDepth), &v); err != nil {
		t.Errorf("Unmarshal(%d nested arrays) = %v, want nil", MaxDepth, err)
	}
	if err := MsgPack.Unmarshal(nested(MaxDepth+1), &v); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Unmarshal(%d nested arrays) = %v, want ErrCorrupt", MaxDepth+1, err)
	}
}

func TestCheckMsgpackAcceptsValidEncodings(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false, 0, 1, -1, -33, 127, 128, 255, 256, 65536, 1 << 40, -1 << 40,
		uint64(1 << 63), float32(1.5), 2.5, "", "short", strings.Repeat("x", 40),
		strings.Repeat("y", 300), strings.Repeat("z", 70000), []byte{}, make([]byte, 300),
		make([]byte, 70000), []int{}, make([]int, 20), make([]int, 70000),
		map[string]int{}, map[string]int{"a": 1}, newPost(1), newFeed(),
		newPost(1).CreatedAt, map[int][]any{1: {nil, "x", 2.0}},
	}
	for _, v := range values {
		data, err := MsgPack.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%T) error: %v", v, err)
		}
		if err := checkMsgpack(data); err != nil {
			t.Errorf("checkMsgpack(Marshal(%T)) = %v, want nil", v, err)
		}
		for cut := range min(len(data), 64) {
			if err := checkMsgpack(data[:cut]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("checkMsgpack(Marshal(%T)[:%d]) = %v, want ErrCorrupt", v, cut, err)
			}
		}
	}
	// Every fixext and ext form is walked, and 0xc1 is rejected.
	exts := [][]byte{
		{0xd4, 1, 0}, {0xd5, 1, 0, 0}, {0xd6, 1, 0, 0, 0, 0},
		{0xd7, 1, 0, 0, 0, 0, 0, 0, 0, 0}, append([]byte{0xd8, 1}, make([]byte, 16)...),
		{0xc7, 1, 5, 0}, {0xc8, 0, 1, 5, 0}, {0xc9, 0, 0, 0, 1, 5, 0},
	}
	for _, e := range exts {
		if err := checkMsgpack(e); err != nil {
			t.Errorf("checkMsgpack(% x) = %v, want nil", e, err)
		}
		if err := checkMsgpack(e[:len(e)-1]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("checkMsgpack(% x) = %v, want ErrCorrupt", e[:len(e)-1], err)
		}
	}
}

func TestHostileJSON(t *testing.T) {
	// Not parallel: measures allocations.
	inputs := map[string][]byte{
		"nested-arrays-100k":  bytes.Repeat([]byte{'['}, 100_000),
		"nested-objects-100k": []byte(strings.Repeat(`{"a":`, 100_000)),
	}
	for name, in := range inputs {
		for _, target := range hostileTargets() {
			var err error
			n := allocated(func() { err = JSON.Unmarshal(in, target) })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("JSON.Unmarshal(%s, %T) = %v, want ErrCorrupt", name, target, err)
			}
			if limit := allocLimit(len(in)); n > limit {
				t.Errorf("JSON.Unmarshal(%s, %T) allocated %d bytes, want <= %d", name, target, n, limit)
			}
		}
	}
	// Brackets inside strings do not count.
	var v any
	in := []byte(`["` + strings.Repeat(`[{\"`, 1000) + `"]`)
	if err := JSON.Unmarshal(in, &v); err != nil {
		t.Errorf("JSON.Unmarshal(brackets in string) = %v, want nil", err)
	}
}

// gobMapBomb is a valid gob stream of map[string]int{"a": 1} whose map
// count is patched to claim n entries (encoding/gob would size the map from
// it).
func gobMapBomb(t *testing.T, n uint64) []byte {
	t.Helper()
	valid, err := Gob.Marshal(map[string]int{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	// Find the last message: the value.
	last := 0
	for off := 0; off < len(valid); {
		l, size, ok := gobUint(valid[off:])
		if !ok {
			t.Fatal("bad framing")
		}
		last = off
		off += size + int(l)
	}
	l, size, _ := gobUint(valid[last:])
	msg := valid[last+size : last+size+int(l)]
	i := bytes.LastIndex(msg, []byte{0x01, 0x01, 'a', 0x02}) // count 1, "a", 1
	if i < 0 {
		t.Fatalf("map layout not found in % x", msg)
	}
	count := []byte{0xfc, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	patched := append(append(append([]byte{}, msg[:i]...), count...), msg[i+1:]...)
	out := append([]byte{}, valid[:last]...)
	out = append(out, byte(len(patched))) // < 128: one byte
	return append(out, patched...)
}

// gobKey is a struct map key: a struct at the end of a gob message decodes
// from zero bytes, so encoding/gob walks any declared count of them.
type gobKey struct{ A int }

// gobStructMapBomb is a top-level map[gobKey]gobKey claiming n entries
// with no bytes behind them.
func gobStructMapBomb(t *testing.T, n uint64) []byte {
	t.Helper()
	valid, err := Gob.Marshal(map[gobKey]gobKey{})
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for off := 0; off < len(valid); {
		l, size, _ := gobUint(valid[off:])
		last = off
		off += size + int(l)
	}
	l, size, _ := gobUint(valid[last:])
	msg := bytes.Clone(valid[last+size : last+size+int(l)])
	if msg[len(msg)-1] != 0x00 { // count 0
		t.Fatalf("map layout not found in % x", msg)
	}
	msg = append(msg[:len(msg)-1], 0xfc, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return gobMessage(bytes.Clone(valid[:last]), msg)
}

func TestHostileGobFraming(t *testing.T) {
	// Not parallel: measures allocations.
	valid, err := Gob.Marshal(newPost(1))
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"map-20M-entries":   gobMapBomb(t, 20_000_000),
		"struct-map-20M":    gobStructMapBomb(t, 20_000_000),
		"message-1GiB":      {0xfc, 0x3f, 0xff, 0xff, 0xff, 0x01, 0x02},
		"message-8-bytes":   {0xf8, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"bad-length-prefix": {0xf0, 0x01},
		"zero-length":       {0x00},
		"truncated":         valid[:len(valid)/2],
		"valid+trailing":    append(append([]byte{}, valid...), 0x01, 0x00),
	}
	for name, in := range inputs {
		// The map bomb needs its own type as target to reach map sizing.
		for _, target := range append(hostileTargets(), new(map[string]int), new(map[gobKey]gobKey)) {
			var err error
			n := allocated(func() { err = Gob.Unmarshal(in, target) })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Gob.Unmarshal(%s, %T) = %v, want ErrCorrupt", name, target, err)
			}
			if limit := allocLimit(len(in)); n > limit {
				t.Errorf("Gob.Unmarshal(%s, %T) allocated %d bytes, want <= %d", name, target, n, limit)
			}
		}
	}
}
