package codec

import (
	"bytes"
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

// CheckGob reports whether data is a gob stream that [Gob]'s Unmarshal
// would walk within its bounds (well-formed types, nesting at most
// [MaxDepth], lengths and counts that fit the input, exactly one value),
// without decoding or allocating values. It returns an error wrapping
// [ErrCorrupt] otherwise. Use it to vet gob bytes before another decoder
// reads them, as extra/scs does for scs.GobCodec's sessions: encoding/gob
// alone overflows the stack, killing the process, on a deep value.
func CheckGob(data []byte) error { return checkGob(data) }
