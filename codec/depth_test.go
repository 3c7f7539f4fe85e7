package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// A deep value is not a recoverable panic: a decoder that recurses once per
// level overflows the goroutine stack and the runtime kills the process
// ("fatal error: stack overflow"; recover cannot catch it). So these tests
// decode hostile input in a child process (this test binary, re-executed)
// and assert that the child exits cleanly.

// hostileChildEnv names the case a re-executed test binary runs.
const hostileChildEnv = "CODEC_HOSTILE_DEPTH_CHILD"

// deepList is the recursive type of the hostile gob inputs.
type deepList struct{ Next *deepList }

// hostileDepth is an input of one codec whose nesting is far beyond
// MaxDepth, and the targets to decode it into (each makes the decoder walk
// the nesting a different way).
type hostileDepth struct {
	name    string
	codec   Codec
	data    []byte
	targets func() []any
}

func anyTarget() []any { var v any; return []any{&v} }

// hostileDepths builds the inputs deterministically. The gob list is the
// 3-million-level input that killed the process (6 MB raw; about 1.4 KB as
// a zstd envelope).
func hostileDepths(t testing.TB) []hostileDepth {
	const levels = 3_000_000
	return []hostileDepth{
		{"gob-recursive-struct", Gob, gobDeepList(t, levels), func() []any { return []any{new(deepList), new(Post)} }},
		{"gob-interface-chain", Gob, gobBoxChain(t, 300_000), func() []any { return []any{new(gobBox), new(Post)} }},
		{"gob-type-chain", Gob, gobTypeChain(20_000), func() []any { return []any{new(Post), new(deepList)} }},
		{"msgpack-arrays", MsgPack, append(bytes.Repeat([]byte{0x91}, levels), 0xc0), anyTarget},
		{"msgpack-maps", MsgPack, append(bytes.Repeat([]byte{0x81, 0xa0}, levels), 0xc0), anyTarget},
		{"json-arrays", JSON, []byte(strings.Repeat("[", levels) + strings.Repeat("]", levels)), anyTarget},
		{"json-objects", JSON, []byte(strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels)), anyTarget},
		{"raw", Raw, gobDeepList(t, levels), func() []any { return []any{new([]byte)} }},
	}
}

// appendGobUint appends v in gob's unsigned integer encoding.
func appendGobUint(dst []byte, v uint64) []byte {
	if v < 0x80 {
		return append(dst, byte(v))
	}
	n := 0
	for x := v; x > 0; x >>= 8 {
		n++
	}
	dst = append(dst, byte(-int8(n)))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// appendGobInt appends v in gob's signed integer encoding.
func appendGobInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendGobUint(dst, uint64(^v)<<1|1)
	}
	return appendGobUint(dst, uint64(v)<<1)
}

// gobTypeDef returns the first message of v's gob stream (its type
// definition) and the type id it defines.
func gobTypeDef(t testing.TB, v any) ([]byte, int64) {
	t.Helper()
	data, err := Gob.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	n, size, _ := gobUint(data)
	u, _, _ := gobUint(data[size:])
	id := int64(u >> 1)
	if u&1 != 0 {
		id = ^id
	}
	return data[:size+int(n)], -id
}

// gobMessage appends a count-delimited message.
func gobMessage(dst, msg []byte) []byte {
	return append(appendGobUint(dst, uint64(len(msg))), msg...)
}

// gobDeepList is a deepList nested levels deep: each level is field delta 1
// (Next), and every struct ends with a zero.
func gobDeepList(t testing.TB, levels int) []byte {
	def, id := gobTypeDef(t, deepList{})
	msg := appendGobInt(nil, id)
	msg = append(msg, bytes.Repeat([]byte{0x01}, levels)...)
	msg = append(msg, bytes.Repeat([]byte{0x00}, levels+1)...)
	return gobMessage(bytes.Clone(def), msg)
}

// gobBoxChain is a gobBox whose interface field holds a gobBox, levels
// deep, each interface value declaring its exact length.
func gobBoxChain(t testing.TB, levels int) []byte {
	def, id := gobTypeDef(t, gobBox{})
	name := reflect.TypeFor[gobBox]().String()
	hdr := appendGobUint(nil, uint64(len(name)))
	hdr = append(hdr, name...)
	hdr = appendGobInt(hdr, id)
	sizes := make([]uint64, levels+1)
	sizes[0] = 1 // a gobBox with a nil V: just the terminator
	for k := 1; k <= levels; k++ {
		sizes[k] = 2 + uint64(len(hdr)) + uint64(len(appendGobUint(nil, sizes[k-1]))) + sizes[k-1]
	}
	msg := appendGobInt(nil, id)
	for k := levels; k >= 1; k-- {
		msg = append(msg, 0x01) // field V
		msg = append(msg, hdr...)
		msg = appendGobUint(msg, sizes[k-1])
	}
	msg = append(msg, bytes.Repeat([]byte{0x00}, levels+1)...)
	return gobMessage(bytes.Clone(def), msg)
}

// gobTypeChain defines n struct types, each with one field F of the next
// type, and sends an empty value of the first: shallow data whose type
// graph is n deep (gob compiles it eagerly).
func gobTypeChain(n int) []byte {
	var out []byte
	for i := range n {
		id := int64(65 + i)
		field := id + 1
		if i == n-1 {
			field = gobIDInt
		}
		msg := appendGobInt(nil, -id)
		msg = append(msg, 0x03, 0x01, 0x01, 0x01, 'T', 0x01)       // StructT{CommonType{Name: "T", Id:
		msg = appendGobInt(msg, id)                                // id}
		msg = append(msg, 0x00, 0x01, 0x01, 0x01, 0x01, 'F', 0x01) // Field: [{Name: "F", Id:
		msg = appendGobInt(msg, field)                             // field}]
		msg = append(msg, 0x00, 0x00, 0x00)                        // }}
		out = gobMessage(out, msg)
	}
	return gobMessage(out, append(appendGobInt(nil, 65), 0x00))
}

// hostileEnvelope wraps payload in a valid envelope naming codec id.
func hostileEnvelope(id byte, alg Compression, payload []byte) []byte {
	if alg != NoCompression {
		payload = compress(alg, nil, payload)
	}
	return finish(nil, []byte{magic0, magic1, version, id, byte(alg), 0, 0, 0, 0, 0, 0}, payload)
}

// TestHostileDepthNeverCrashes decodes every deep input, bare and in an
// envelope (uncompressed, s2, zstd), with every codec as the reader: each
// compression in its own child process, which reports every reader it
// finished. The test asserts that every child exits cleanly having seen the
// expected errors.
func TestHostileDepthNeverCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 6 MB inputs in 3 child processes")
	}
	t.Parallel()
	for _, alg := range []Compression{NoCompression, S2, Zstd} {
		t.Run(alg.String(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHostileDepthChild$", "-test.v")
			cmd.Env = append(os.Environ(), hostileChildEnv+"="+alg.String())
			out, err := cmd.CombinedOutput()
			for _, c := range readers {
				if want := fmt.Sprintf("reader %s/%v done", c.Name(), alg); err != nil || !bytes.Contains(out, []byte(want)) {
					if len(out) > 4000 {
						out = append(out[:4000], "..."...)
					}
					t.Fatalf("child %v: %v, want a clean exit and %q; output:\n%s", alg, err, want, out)
				}
			}
		})
	}
}

// readers are the codecs TestHostileDepthChild reads with.
var readers = append([]Codec{Raw}, allCodecs...)

// TestHostileDepthChild runs one compression of
// TestHostileDepthNeverCrashes; it does nothing unless started by it.
func TestHostileDepthChild(t *testing.T) {
	name := os.Getenv(hostileChildEnv)
	if name == "" {
		t.Skip("run by TestHostileDepthNeverCrashes in a child process")
	}
	alg := map[string]Compression{"none": NoCompression, "s2": S2, "zstd": Zstd}[name]
	hostile := hostileDepths(t)
	envs := make([][]byte, len(hostile))
	for i, h := range hostile {
		envs[i] = hostileEnvelope(h.codec.ID(), alg, h.data)
	}
	for _, reader := range readers {
		for i, h := range hostile {
			for _, target := range h.targets() {
				if alg == NoCompression && reader == h.codec {
					err := reader.Unmarshal(h.data, target)
					checkHostile(t, fmt.Sprintf("%s.Unmarshal(%s, %T)", reader.Name(), h.name, target), err, h.codec == Raw, false)
				}
				_, err := (&Envelope{Codec: reader}).Decode(envs[i], target)
				checkHostile(t, fmt.Sprintf("%s reader: Decode(%s/%v, %T)", reader.Name(), h.name, alg, target), err, h.codec == Raw && reader == Raw, reader != h.codec)
				if reader != h.codec {
					// A reader that accepts the entry's codec reaches its decoder.
					_, err = (&Envelope{Codec: reader, Accept: []Codec{h.codec}}).Decode(envs[i], target)
					checkHostile(t, fmt.Sprintf("%s reader accepting %s: Decode(%s/%v, %T)", reader.Name(), h.codec.Name(), h.name, alg, target), err, h.codec == Raw, false)
				}
			}
		}
		t.Logf("reader %s/%v done", reader.Name(), alg)
	}
}

// checkHostile asserts the outcome of one hostile decode: success for raw
// bytes read as raw, else ErrCorrupt, and ErrCodecMismatch exactly when the
// reader does not accept the entry's codec.
func checkHostile(t *testing.T, what string, err error, wantOK, wantMismatch bool) {
	t.Helper()
	switch {
	case wantOK && err != nil:
		t.Errorf("%s = %v, want nil", what, err)
	case !wantOK && !errors.Is(err, ErrCorrupt):
		t.Errorf("%s = %v, want ErrCorrupt", what, err)
	case !wantOK && errors.Is(err, ErrCodecMismatch) != wantMismatch:
		t.Errorf("%s = %v, want mismatch %v", what, err, wantMismatch)
	}
}

// TestEncodingJSONDepthIsStackSafe: encoding/json alone (without our
// MaxDepth check) refuses nesting beyond 10,000 levels, and 10,000 levels
// decode without exhausting the stack; our check refuses anything past
// MaxDepth before encoding/json runs.
func TestEncodingJSONDepthIsStackSafe(t *testing.T) {
	t.Parallel()
	nested := func(n int) []byte { return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)) }
	var v any
	if err := json.Unmarshal(nested(10_000), &v); err != nil {
		t.Errorf("json.Unmarshal(10000 levels) = %v, want nil", err)
	}
	if err := json.Unmarshal(nested(10_001), &v); err == nil {
		t.Error("json.Unmarshal(10001 levels) = nil, want its depth error")
	}
	if err := JSON.Unmarshal(nested(MaxDepth), &v); err != nil {
		t.Errorf("JSON.Unmarshal(%d levels) = %v, want nil", MaxDepth, err)
	}
	if err := JSON.Unmarshal(nested(MaxDepth+1), &v); !errors.Is(err, ErrCorrupt) {
		t.Errorf("JSON.Unmarshal(%d levels) = %v, want ErrCorrupt", MaxDepth+1, err)
	}
}

// TestGobDepthLimit: gob values nest up to MaxDepth containers, through
// struct recursion and interface values alike.
func TestGobDepthLimit(t *testing.T) {
	t.Parallel()
	// gobDeepList(n) has n+1 structs.
	for _, tc := range []struct {
		data []byte
		ok   bool
	}{
		{gobDeepList(t, MaxDepth-1), true}, {gobDeepList(t, MaxDepth), false},
		{gobBoxChain(t, MaxDepth-1), true}, {gobBoxChain(t, MaxDepth), false},
	} {
		var l deepList
		var b gobBox
		for _, target := range []any{&l, &b, new(Post)} {
			err := Gob.Unmarshal(tc.data, target)
			if tc.ok && errors.Is(err, ErrCorrupt) && strings.Contains(err.Error(), "nesting") {
				t.Errorf("Gob.Unmarshal(%d bytes, %T) = %v, want no depth error", len(tc.data), target, err)
			}
			if !tc.ok && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "nesting")) {
				t.Errorf("Gob.Unmarshal(%d bytes, %T) = %v, want a depth error", len(tc.data), target, err)
			}
		}
	}
	// The list at MaxDepth decodes in full.
	var l deepList
	if err := Gob.Unmarshal(gobDeepList(t, MaxDepth-1), &l); err != nil {
		t.Fatalf("Gob.Unmarshal(list of %d) = %v", MaxDepth, err)
	}
	n := 0
	for p := &l; p != nil; p = p.Next {
		n++
	}
	if n != MaxDepth {
		t.Errorf("decoded list has %d nodes, want %d", n, MaxDepth)
	}
}
