package codec

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack is the MessagePack codec (github.com/vmihailenco/msgpack/v5), the
// [Default]. Structs are encoded as maps keyed by field name (use `msgpack`
// struct tags to rename), times keep nanosecond precision.
//
// Before decoding, the input is walked structurally without allocating: every
// declared string, binary, extension, array and map length must fit in the
// remaining bytes, nesting is at most [MaxDepth], and the input must be
// exactly one value. msgpack v5.4.1 trusts declared lengths (a 5-byte header
// claiming 1 GiB allocates 1 GiB); after the check, every declared element
// is backed by at least one input byte, so decoding allocates at most about
// the input size times the size of the target's element type (a slice of
// large structs costs more per byte than a []byte). Extension payloads are
// opaque to the walk: a type registered with msgpack.RegisterExt decodes its
// own payload, so its UnmarshalMsgpack must bound what it reads. It is safe
// for concurrent use.
var MsgPack Codec = msgpackCodec{}

type msgpackCodec struct{}

func (msgpackCodec) Name() string { return "msgpack" }
func (msgpackCodec) ID() byte     { return idMsgPack }

func (c msgpackCodec) Marshal(v any) ([]byte, error) {
	bp := getBuf()
	defer putBuf(bp)
	b, err := c.appendMarshal((*bp)[:0], v)
	*bp = b
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// appendMarshal appends the encoding of v to dst.
func (msgpackCodec) appendMarshal(dst []byte, v any) ([]byte, error) {
	w := appendWriter{b: dst}
	enc := msgpack.GetEncoder()
	enc.Reset(&w)
	err := enc.Encode(v)
	enc.Reset(nil)
	msgpack.PutEncoder(enc)
	return w.b, err
}

func (msgpackCodec) Unmarshal(data []byte, v any) (err error) {
	if err := resetTarget(v); err != nil {
		return err
	}
	defer recoverCorrupt("msgpack", v, &err)
	if err := checkMsgpack(data); err != nil {
		return err
	}
	if err := unmarshalMsgpack(data, v); err != nil {
		zeroTarget(v)
		return corrupt("msgpack", err)
	}
	return nil
}

// walkMsgpack is checkMsgpack, with a panic (a bug in the walk) turned into
// an ErrCorrupt error as Unmarshal turns a decoder's.
func walkMsgpack(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corruptf("%s: decoder panic: %v", "msgpack", r)
		}
	}()
	return checkMsgpack(data)
}

// unmarshalWalked is Unmarshal (in DecodeBatch) of data, which
// walkMsgpack has walked with the outcome walkErr: it resets the target
// (an invalid target is reported first), then returns walkErr, or decodes
// with the decoder *m, taken from the pool if *m is nil and left in *m
// for the next decode (nil after a panic: that decoder is dropped).
func unmarshalWalked(m **msgpackReader, data []byte, v any, walkErr error) (err error) {
	if err := resetTarget(v); err != nil {
		return err
	}
	defer recoverCorrupt("msgpack", v, &err)
	if walkErr != nil {
		return walkErr
	}
	r := *m
	if r == nil {
		r = msgpackReaders.Get().(*msgpackReader)
	}
	*m = nil
	err = r.decode(data, v)
	*m = r
	if err != nil {
		zeroTarget(v)
		return corrupt("msgpack", err)
	}
	return nil
}

// msgpackReader is a pooled decoder with the reader it decodes from, so a
// decode allocates no reader (msgpack.Unmarshal allocates a bytes.Reader
// per call).
type msgpackReader struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var msgpackReaders = sync.Pool{New: func() any { return &msgpackReader{dec: msgpack.NewDecoder(nil)} }}

// unmarshalMsgpack is msgpack.Unmarshal with a pooled reader (see decode).
func unmarshalMsgpack(data []byte, v any) error {
	m := msgpackReaders.Get().(*msgpackReader)
	err := m.decode(data, v)
	msgpackReaders.Put(m) // not reached after a panic: that decoder is dropped
	return err
}

// decode is msgpack.Unmarshal with m's reader and decoder: the decoder is
// reset (every option off, as msgpack.Unmarshal's Reset leaves it) to read
// data, and reset again after it.
func (m *msgpackReader) decode(data []byte, v any) error {
	m.r.Reset(data)
	m.dec.Reset(&m.r)
	err := m.dec.Decode(v)
	m.dec.Reset(nil)
	m.r.Reset(nil)
	return err
}

// release returns m, if not nil, to the pool.
func (m *msgpackReader) release() {
	if m != nil {
		msgpackReaders.Put(m)
	}
}

// appendWriter is an io.Writer (and io.ByteWriter) that appends to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

var _ io.StringWriter = (*appendWriter)(nil)

// bufPool holds scratch buffers for encoding.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf is the largest buffer returned to the pool; larger ones are
// left to the garbage collector so one huge value does not pin memory.
const maxPooledBuf = 256 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

var errTrailing = errors.New("trailing bytes after value")
