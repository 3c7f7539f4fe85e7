package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
)

// Gob is the encoding/gob codec. Each value is encoded as a self-contained
// stream (type descriptors included), so it is larger than [MsgPack]. Interface
// values need [gob.Register].
//
// Before decoding, Unmarshal walks the stream the way encoding/gob reads it,
// without allocating values: type definitions must be well formed and
// unambiguous, values may nest at most [MaxDepth] structs, arrays, slices
// and maps deep (through recursive types and interface values alike),
// declared lengths must fit in the message and counts in the input, and the
// stream must be exactly one value. encoding/gob itself has no depth bound:
// a deep value for a recursive type overflows the stack, which kills the
// process. An interface value whose concrete type is first sent inside
// another interface value is refused: its declared length covers only its
// first part, so encoding/gob's discarding path would misread it. Decoder
// panics become [ErrCorrupt].
//
// WARNING: gob is about 10x slower to decode than MsgPack (~200 allocations
// for a typical struct) and the Go team does not harden encoding/gob against
// adversarial input; the walk above bounds its recursion and allocation, but
// prefer MsgPack for data others can write. It is safe for concurrent use.
var Gob Codec = gobCodec{}

type gobCodec struct{}

func (gobCodec) Name() string { return "gob" }
func (gobCodec) ID() byte     { return idGob }

func (gobCodec) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (gobCodec) Unmarshal(data []byte, v any) (err error) {
	if err := resetTarget(v); err != nil {
		return err
	}
	defer recoverCorrupt("gob", v, &err)
	if err := checkGob(data); err != nil {
		return err
	}
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		zeroTarget(v)
		return corrupt("gob", err)
	}
	return nil
}

// checkGobFraming walks the gob stream's count-delimited messages and checks
// that each declared count fits in the remaining input, so the decoder never
// sizes a message buffer from a length the input does not contain.
func checkGobFraming(data []byte) error {
	if len(data) == 0 {
		return corruptf("gob: empty input")
	}
	for off := 0; off < len(data); {
		n, size, ok := gobUint(data[off:])
		if !ok {
			return corruptf("gob: bad message length at offset %d", off)
		}
		off += size
		if n == 0 || n > uint64(len(data)-off) {
			return corruptf("gob: message length %d exceeds %d remaining bytes at offset %d", n, len(data)-off, off)
		}
		off += int(n)
	}
	return nil
}

// gobUint decodes a gob unsigned integer: one byte below 128, otherwise a
// byte holding the negated byte count followed by that many big-endian bytes.
func gobUint(b []byte) (v uint64, size int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1, true
	}
	n := int(-int8(b[0]))
	if n < 1 || n > 8 || len(b) < 1+n {
		return 0, 0, false
	}
	var buf [8]byte
	copy(buf[8-n:], b[1:1+n])
	return binary.BigEndian.Uint64(buf[:]), 1 + n, true
}
