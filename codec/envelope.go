package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Envelope byte layout, version 1 (see the package documentation):
//
//	offset  size  field
//	0       2     magic 0xC1 0x4B; 0xC1 is never used by MessagePack, is not
//	              valid UTF-8 (so never JSON text) and never starts a gob stream
//	2       1     format version (1)
//	3       1     codec ID (Codec.ID)
//	4       1     flags: bits 0-1 compression (0 none, 1 s2, 2 zstd),
//	              bits 2-3 kind (0 value, 1 not-found, 2 tombstone), bits 4-7 zero
//	5       var   created-at, unix nanoseconds, zig-zag varint (0 = zero time)
//	        var   soft expiry, unix nanoseconds, zig-zag varint (0 = none)
//	        var   load duration, nanoseconds, zig-zag varint
//	        var   stale-while-revalidate window, nanoseconds, zig-zag varint
//	        var   stale-if-error window, nanoseconds, zig-zag varint
//	        var   generation, unsigned varint
//	        n     payload: the codec's bytes, compressed as the flags say;
//	              empty unless kind is value
//	len-4   4     CRC-32C (Castagnoli), little-endian, of every byte before it
const (
	magic0       = 0xC1
	magic1       = 0x4B
	version      = 1
	fixedHeader  = 5
	crcSize      = 4
	minEnvelope  = fixedHeader + 6 + crcSize // six one-byte varints
	flagCompMask = 0x03
	flagKindMask = 0x0C
	flagKindBit  = 2
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Kind says what an envelope holds.
type Kind uint8

const (
	// KindValue is a cached value; only this kind carries a payload.
	KindValue Kind = 0
	// KindNotFound records that the loader reported "not found", for
	// negative caching.
	KindNotFound Kind = 1
	// KindTombstone is written by invalidation so that a value loaded before
	// it is not stored after it.
	KindTombstone Kind = 2
)

// String returns "value", "not-found", "tombstone" or "kind(N)".
func (k Kind) String() string {
	switch k {
	case KindValue:
		return "value"
	case KindNotFound:
		return "not-found"
	case KindTombstone:
		return "tombstone"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Meta is the metadata stored in an envelope beside the value. Times are
// stored as unix nanoseconds: they keep nanosecond precision but not their
// location or monotonic reading, and must lie between the years 1678 and 2262.
// A zero time is stored as zero and decodes as the zero time.
type Meta struct {
	Kind         Kind          // what the envelope holds; default KindValue
	CreatedAt    time.Time     // when the value was stored
	SoftExpiry   time.Time     // when the value becomes stale; zero = never
	LoadDuration time.Duration // how long the loader took (for early refresh)
	// StaleWhileRevalidate and StaleIfError are the entry's own stale
	// windows after SoftExpiry (zero: the reader's defaults apply).
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	Generation           uint64 // namespace or key generation at load time
	// Codec is set by Decode (the reader's codec that decoded the value)
	// and DecodeMeta (the built-in codec the data names); Encode ignores it.
	Codec Codec
	// Compression is set by Decode and DecodeMeta; Encode ignores it.
	Compression Compression
}

// Envelope encodes values with a codec, optional compression and a versioned,
// checksummed header holding [Meta]. The zero value is ready to use: it
// encodes with [Default] and no compression. An Envelope is safe for
// concurrent use as long as its fields are not changed.
type Envelope struct {
	// Codec encodes and decodes values. Default: [Default]. The codec is
	// the reader's choice: Decode decodes only entries whose stored codec ID
	// is Codec's (or one in Accept); an entry written with any other codec
	// is a [*CodecMismatchError], which wraps [ErrCorrupt]. Stored bytes
	// never choose which decoder runs.
	Codec Codec
	// Accept lists further codecs Decode accepts, for migrating stored
	// entries from one codec to another: set Codec to the new codec and
	// Accept to the old one until the old entries have expired. Encode
	// ignores it. Default: none.
	//
	// WARNING: every accepted codec is a decoder that stored bytes can
	// select; accept only codecs whose hostile-input bounds you rely on.
	Accept []Codec
	// Compression is applied when the encoded value is at least Threshold
	// bytes and compressing saves bytes. Default: NoCompression.
	Compression Compression
	// Threshold is the smallest payload to compress. Default (0):
	// DefaultThreshold. A negative value tries every non-empty payload.
	Threshold int
	// MaxSize is the largest decompressed payload Decode accepts. Default
	// (0): DefaultMaxSize.
	MaxSize int
}

// appender is implemented by codecs that can encode straight into a buffer.
type appender interface {
	appendMarshal(dst []byte, v any) ([]byte, error)
}

var (
	errBadTime = errors.New("codec: time outside the years 1678-2262 cannot be stored")
	errKind    = errors.New("codec: invalid kind")
)

// Encode returns the envelope for v with the given metadata (meta.Codec and
// meta.Compression are ignored). For KindNotFound and KindTombstone, v is
// ignored and no payload is stored.
func (e *Envelope) Encode(v any, meta Meta) ([]byte, error) {
	return e.AppendEncode(nil, v, meta)
}

// AppendEncode is like [Envelope.Encode] but appends the envelope to dst.
func (e *Envelope) AppendEncode(dst []byte, v any, meta Meta) ([]byte, error) {
	c := e.Codec
	if c == nil {
		c = Default
	}
	if meta.Kind > KindTombstone {
		return nil, fmt.Errorf("%w %d", errKind, meta.Kind)
	}
	if e.Compression > Zstd {
		return nil, fmt.Errorf("codec: unknown compression %v", e.Compression)
	}
	created, ok1 := timeNanos(meta.CreatedAt)
	soft, ok2 := timeNanos(meta.SoftExpiry)
	if !ok1 || !ok2 {
		return nil, errBadTime
	}

	bp := getBuf()
	defer putBuf(bp)
	buf := append((*bp)[:0], magic0, magic1, version, c.ID(), byte(meta.Kind)<<flagKindBit)
	buf = binary.AppendVarint(buf, created)
	buf = binary.AppendVarint(buf, soft)
	buf = binary.AppendVarint(buf, int64(meta.LoadDuration))
	buf = binary.AppendVarint(buf, int64(meta.StaleWhileRevalidate))
	buf = binary.AppendVarint(buf, int64(meta.StaleIfError))
	buf = binary.AppendUvarint(buf, meta.Generation)
	hdr := len(buf)

	if meta.Kind == KindValue {
		var err error
		if a, ok := c.(appender); ok {
			buf, err = a.appendMarshal(buf, v)
		} else {
			var p []byte
			if p, err = c.Marshal(v); err == nil {
				buf = append(buf, p...)
			}
		}
		*bp = buf
		if err != nil {
			return nil, err
		}
	}
	payload := buf[hdr:]

	if e.shouldCompress(len(payload)) {
		cp := getBuf()
		defer putBuf(cp)
		comp := compress(e.Compression, (*cp)[:0], payload)
		*cp = comp
		if len(comp) < len(payload) {
			buf[4] |= byte(e.Compression)
			return finish(dst, buf[:hdr], comp), nil
		}
	}
	return finish(dst, buf[:hdr], payload), nil
}

func (e *Envelope) shouldCompress(n int) bool {
	if e.Compression == NoCompression || n == 0 {
		return false
	}
	t := e.Threshold
	if t == 0 {
		t = DefaultThreshold
	}
	return n >= t
}

// finish appends header, payload and the CRC-32C of both to dst, growing dst
// at most once.
func finish(dst, header, payload []byte) []byte {
	n := len(header) + len(payload) + crcSize
	if cap(dst)-len(dst) < n {
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	start := len(dst)
	dst = append(dst, header...)
	dst = append(dst, payload...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// Decode verifies data and decodes its value into v with the reader's codec
// (e.Codec, or one in e.Accept, whichever has the ID the data names),
// starting from a fresh (zeroed) value. For KindNotFound and KindTombstone
// nothing is decoded (v is zeroed if it is a non-nil pointer) and v may be
// nil. Undecodable data gives an error wrapping [ErrCorrupt] (a
// [*CodecMismatchError] for an entry written with a codec the reader does
// not accept); on any error, the value v points to is left zeroed.
func (e *Envelope) Decode(data []byte, v any) (meta Meta, err error) {
	// DecodeBatch's verify and decodeVerified do the same, in two steps;
	// in one, a single decode runs faster (5% on a 700-byte value).
	meta, id, payload, err := parse(data)
	if err == nil {
		meta.Codec, err = e.reader(id)
	}
	if err == nil && meta.Kind == KindValue && meta.Compression != NoCompression {
		maxSize := e.MaxSize
		if maxSize <= 0 {
			maxSize = DefaultMaxSize
		}
		payload, err = decompress(meta.Compression, payload, maxSize)
	}
	if err != nil {
		zeroTarget(v)
		return Meta{}, err
	}
	if meta.Kind != KindValue {
		zeroTarget(v)
		return meta, nil
	}
	if err := meta.Codec.Unmarshal(payload, v); err != nil {
		return Meta{}, err
	}
	return meta, nil
}

// DecodeBatch decodes many envelopes: for every i, it sets metas[i] and
// errs[i] to what Decode(data[i], targets[i]) returns, with the same
// effect on the value targets[i] points to. It runs the same checks as
// Decode; it only orders the work differently: for a few entries at a
// time, it verifies each (header, checksum, the codec's pre-validation
// walk) before it decodes any, so that each stage's code stays in the
// CPU's caches across the entries instead of being evicted by the next
// stage for every entry (a batch read of many entries spends much of its
// time on such misses). Compressed entries are decompressed one at a time
// in the decoding stage, as Decode does, never several held at once.
// DecodeBatch panics unless targets, metas and errs have the length of
// data.
func (e *Envelope) DecodeBatch(data [][]byte, targets []any, metas []Meta, errs []error) {
	if len(targets) != len(data) || len(metas) != len(data) || len(errs) != len(data) {
		panic("codec: DecodeBatch: data, targets, metas and errs differ in length")
	}
	var vs [batchStage]verified
	var m *msgpackReader // one decoder for the batch
	for start := 0; start < len(data); start += batchStage {
		n := min(batchStage, len(data)-start)
		for i := range n {
			e.verify(&vs[i], data[start+i])
		}
		for i := range n {
			errs[start+i] = e.decodeVerified(&vs[i], targets[start+i], &metas[start+i], &m)
		}
	}
	m.release()
}

// batchStage is how many entries DecodeBatch verifies before decoding
// them: enough to keep each stage's code warm, few enough that their
// bytes (about 12 KiB for 16 entries of 700 bytes) stay in a core's
// first-level cache until they are decoded.
const batchStage = 16

// verified is an envelope's header, checked by verify, and what is left to
// do to decode it.
type verified struct {
	meta    Meta
	payload []byte
	err     error // the envelope is undecodable: nothing is left to do
	// walked says that the payload is uncompressed msgpack and was
	// walked by checkMsgpack, with the outcome walkErr.
	walked  bool
	walkErr error
}

// verify checks data (magic, version, checksum, flags, metadata and the
// reader's codec) into s, and walks an uncompressed msgpack payload with
// checkMsgpack. A compressed payload is left compressed: decompressing
// it allocates up to MaxSize, so it is done just before its decoding.
func (e *Envelope) verify(s *verified, data []byte) {
	meta, id, payload, err := parse(data)
	if err == nil {
		meta.Codec, err = e.reader(id)
	}
	*s = verified{meta: meta, payload: payload, err: err}
	if err == nil && meta.Kind == KindValue && meta.Compression == NoCompression {
		if _, ok := meta.Codec.(msgpackCodec); ok {
			s.walked, s.walkErr = true, walkMsgpack(payload)
		}
	}
}

// decodeVerified finishes what verify began: it decompresses the payload
// if needed and decodes it into v (a msgpack payload with the decoder *m;
// see unmarshalWalked), and sets *meta; see Decode.
func (e *Envelope) decodeVerified(s *verified, v any, meta *Meta, m **msgpackReader) error {
	payload, err := s.payload, s.err
	value := s.meta.Kind == KindValue
	if err == nil && value && s.meta.Compression != NoCompression {
		maxSize := e.MaxSize
		if maxSize <= 0 {
			maxSize = DefaultMaxSize
		}
		payload, err = decompress(s.meta.Compression, payload, maxSize)
	}
	switch {
	case err != nil:
		zeroTarget(v)
	case !value:
		zeroTarget(v)
	case s.walked:
		err = unmarshalWalked(m, payload, v, s.walkErr)
	default:
		err = s.meta.Codec.Unmarshal(payload, v)
	}
	if err != nil {
		*meta = Meta{}
		return err
	}
	*meta = s.meta
	return nil
}

// reader returns the codec that decodes entries stored with codec ID id:
// e.Codec (default [Default]) or one of e.Accept.
func (e *Envelope) reader(id byte) (Codec, error) {
	c := e.Codec
	if c == nil {
		c = Default
	}
	if c.ID() == id {
		return c, nil
	}
	for _, a := range e.Accept {
		if a != nil && a.ID() == id {
			return a, nil
		}
	}
	return nil, &CodecMismatchError{ID: id, Want: c}
}

// CodecMismatchError reports an envelope written with a codec the reader
// does not accept (see [Envelope.Codec]). It wraps both [ErrCorrupt] and
// [ErrCodecMismatch], so callers that treat corrupt entries as misses need
// no special case.
type CodecMismatchError struct {
	ID   byte  // the codec ID stored in the envelope
	Want Codec // the reader's codec
}

// Error names the stored codec and the reader's.
func (e *CodecMismatchError) Error() string {
	stored := fmt.Sprintf("id %d", e.ID)
	if c, ok := ByID(e.ID); ok {
		stored = c.Name()
	}
	return fmt.Sprintf("%v: envelope written with codec %s, reader decodes %s", ErrCodecMismatch, stored, e.Want.Name())
}

// Unwrap returns [ErrCorrupt] and [ErrCodecMismatch].
func (e *CodecMismatchError) Unwrap() []error { return []error{ErrCorrupt, ErrCodecMismatch} }

// Encode is (&Envelope{Codec: c}).Encode(v, meta): an uncompressed envelope.
// A nil c means [Default].
func Encode(c Codec, v any, meta Meta) ([]byte, error) {
	e := Envelope{Codec: c}
	return e.Encode(v, meta)
}

// Decode is [Envelope.Decode] with the default settings: it decodes entries
// written with [Default] (msgpack) only, compressed or not; any other codec
// gives a [*CodecMismatchError]. Use an Envelope with Codec (and Accept) set
// to read entries of other codecs.
func Decode(data []byte, v any) (Meta, error) {
	var e Envelope
	return e.Decode(data, v)
}

// DecodeMeta verifies data (magic, version, codec, flags, checksum) and
// returns its metadata without decoding or decompressing the value: a cheap
// way to check expiry or spot a tombstone. Meta.Codec is the built-in codec
// the data names; an ID that names no built-in codec, like any other
// undecodable data, gives an error wrapping [ErrCorrupt].
func DecodeMeta(data []byte) (Meta, error) {
	meta, id, _, err := parse(data)
	if err != nil {
		return Meta{}, err
	}
	c, ok := ByID(id)
	if !ok {
		return Meta{}, corruptf("envelope: unknown codec id %d", id)
	}
	meta.Codec = c
	return meta, nil
}

// parse verifies the envelope and returns its metadata (without Codec), the
// stored codec ID and the raw payload.
func parse(data []byte) (Meta, byte, []byte, error) {
	if len(data) < minEnvelope {
		return Meta{}, 0, nil, corruptf("envelope: %d bytes is too short", len(data))
	}
	if data[0] != magic0 || data[1] != magic1 {
		return Meta{}, 0, nil, corruptf("envelope: bad magic %#02x %#02x", data[0], data[1])
	}
	if data[2] != version {
		return Meta{}, 0, nil, corruptf("envelope: unknown version %d", data[2])
	}
	body := data[:len(data)-crcSize]
	if got, want := crc32.Checksum(body, crcTable), binary.LittleEndian.Uint32(data[len(body):]); got != want {
		return Meta{}, 0, nil, corruptf("envelope: checksum %08x, want %08x", got, want)
	}
	id, flags := data[3], data[4]
	meta := Meta{
		Compression: Compression(flags & flagCompMask),
		Kind:        Kind((flags & flagKindMask) >> flagKindBit),
	}
	if flags&^(flagCompMask|flagKindMask) != 0 || meta.Compression > Zstd || meta.Kind > KindTombstone {
		return Meta{}, 0, nil, corruptf("envelope: unknown flags %#02x", flags)
	}
	off := fixedHeader
	var vals [5]int64
	for i := range vals {
		x, n := binary.Varint(body[off:])
		if n <= 0 {
			return Meta{}, 0, nil, corruptf("envelope: bad metadata varint at offset %d", off)
		}
		vals[i], off = x, off+n
	}
	gen, n := binary.Uvarint(body[off:])
	if n <= 0 {
		return Meta{}, 0, nil, corruptf("envelope: bad generation varint at offset %d", off)
	}
	off += n
	meta.CreatedAt = nanosTime(vals[0])
	meta.SoftExpiry = nanosTime(vals[1])
	meta.LoadDuration = time.Duration(vals[2])
	meta.StaleWhileRevalidate = time.Duration(vals[3])
	meta.StaleIfError = time.Duration(vals[4])
	meta.Generation = gen
	payload := body[off:]
	if meta.Kind != KindValue && (len(payload) != 0 || meta.Compression != NoCompression) {
		return Meta{}, 0, nil, corruptf("envelope: %v entry with payload or compression", meta.Kind)
	}
	return meta, id, payload, nil
}

// timeNanos returns t as unix nanoseconds (0 for the zero time) and whether t
// is representable.
func timeNanos(t time.Time) (int64, bool) {
	if t.IsZero() {
		return 0, true
	}
	n := t.UnixNano()
	return n, time.Unix(0, n).Equal(t)
}

func nanosTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
