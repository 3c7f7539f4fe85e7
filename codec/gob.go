package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"reflect"
)

// Gob is the encoding/gob codec. Each value is encoded as a self-contained
// stream (type descriptors included), so it is larger than [MsgPack]. Interface
// values need [gob.Register].
//
// WARNING: gob is about 10x slower to decode than MsgPack (~200 allocations
// for a typical struct) and the Go team does not harden encoding/gob against
// adversarial input. Unmarshal therefore checks that every gob message length
// fits in the input, then decodes the stream once while discarding it
// (encoding/gob's ignore path reads declared element counts against the input
// instead of allocating them, so a 26-byte input claiming 20 million map
// entries fails there), and only then decodes into v; nothing may trail the
// value, and decoder panics become [ErrCorrupt]. The dry run doubles the
// decoding cost. Prefer MsgPack for data others can write. It is safe for
// concurrent use.
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
	if err := checkGobFraming(data); err != nil {
		return err
	}
	// Dry run: discard the value. encoding/gob sizes maps from their
	// declared count when decoding into a value (MakeMapWithSize) but not
	// when discarding, where a count larger than the input runs out of input.
	if err := gob.NewDecoder(bytes.NewReader(data)).DecodeValue(reflect.Value{}); err != nil {
		return corrupt("gob", err)
	}
	r := bytes.NewReader(data)
	if err := gob.NewDecoder(r).Decode(v); err != nil {
		zeroTarget(v)
		return corrupt("gob", err)
	}
	if r.Len() != 0 {
		zeroTarget(v)
		return corruptf("gob: %v (%d bytes)", errTrailing, r.Len())
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
