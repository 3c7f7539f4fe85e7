package codec

import (
	"errors"
	"fmt"
	"reflect"
)

// Codec turns values into bytes and back.
//
// Implementations are safe for concurrent use. Unmarshal always decodes into a
// fresh value: it first resets the pointee of v to its zero value, so no field
// of a previously used value survives, and when decoding fails it resets it
// again, so a failed decode never leaves a partly filled value. Errors caused
// by the input bytes wrap [ErrCorrupt]; a nil or non-pointer target gives an
// [*InvalidTargetError].
type Codec interface {
	// Name returns the codec's short lower-case name, such as "msgpack".
	Name() string
	// ID returns the codec's identifier as stored in an envelope. IDs are
	// stable and never reused.
	ID() byte
	// Marshal returns the encoding of v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
}

// Codec identifiers as stored in an envelope. They are part of the stored
// format: never renumber or reuse one.
const (
	idMsgPack byte = 1
	idJSON    byte = 2
	idGob     byte = 3
	idRaw     byte = 4
)

var (
	// ErrCorrupt is wrapped by every error caused by undecodable input:
	// garbage, truncated, bit-flipped, foreign, hostile or unknown-version data.
	// Callers such as memo treat it as a cache miss and overwrite the entry.
	ErrCorrupt = errors.New("codec: corrupt data")

	// ErrCodecMismatch is wrapped (with ErrCorrupt) by the
	// [*CodecMismatchError] of an envelope written with a codec the reader
	// does not accept, so callers can count such entries apart.
	ErrCodecMismatch = errors.New("codec: entry written with another codec")
)

// MaxDepth is the deepest nesting of arrays, maps, objects or structs that
// the built-in codecs accept on decode (gob counts through recursive types
// and interface values). Deeper input wraps [ErrCorrupt], before any
// recursive decoder runs.
const MaxDepth = 64

// Default is the codec used when none is configured: [MsgPack].
var Default Codec = MsgPack

// ByID returns the built-in codec with the given identifier.
func ByID(id byte) (Codec, bool) {
	switch id {
	case idMsgPack:
		return MsgPack, true
	case idJSON:
		return JSON, true
	case idGob:
		return Gob, true
	case idRaw:
		return Raw, true
	}
	return nil, false
}

// InvalidTargetError is returned by Unmarshal and Decode when the target is not
// a non-nil pointer.
type InvalidTargetError struct {
	Type reflect.Type // nil when the target was a nil interface
}

// Error describes the invalid target.
func (e *InvalidTargetError) Error() string {
	if e.Type == nil {
		return "codec: Unmarshal(nil)"
	}
	if e.Type.Kind() != reflect.Pointer {
		return "codec: Unmarshal(non-pointer " + e.Type.String() + ")"
	}
	return "codec: Unmarshal(nil " + e.Type.String() + ")"
}

// UnsupportedTypeError is returned when a codec cannot handle a Go type, such
// as [Raw] given anything but a byte slice or string.
type UnsupportedTypeError struct {
	Codec string
	Type  reflect.Type
}

// Error names the codec and the type.
func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("codec: %s does not support type %v", e.Codec, e.Type)
}

// resetTarget checks that v is a non-nil pointer and sets its pointee to the
// zero value, so decoding starts from a fresh value.
func resetTarget(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidTargetError{Type: reflect.TypeOf(v)}
	}
	rv.Elem().SetZero()
	return nil
}

// zeroTarget sets the value v points to to its zero value, if v is a
// non-nil pointer; otherwise it does nothing.
func zeroTarget(v any) {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero()
	}
}

// corrupt wraps a decoder's error with ErrCorrupt and the codec name.
func corrupt(name string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, name, err)
}

// corruptf builds an ErrCorrupt error with a formatted reason.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// recoverCorrupt turns a panic during decoding into an ErrCorrupt error and
// zeroes the target again. It must be deferred directly.
func recoverCorrupt(name string, v any, err *error) {
	if r := recover(); r != nil {
		zeroTarget(v)
		*err = corruptf("%s: decoder panic: %v", name, r)
	}
}
