package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
)

func testMeta() Meta {
	return Meta{
		CreatedAt:    time.Now(),
		SoftExpiry:   time.Now().Add(time.Minute),
		LoadDuration: 1234567 * time.Nanosecond,
		Generation:   42,

		StaleWhileRevalidate: 30 * time.Second,
		StaleIfError:         time.Hour,
	}
}

func sameMeta(a, b Meta) bool {
	return a.Kind == b.Kind && a.CreatedAt.Equal(b.CreatedAt) && a.SoftExpiry.Equal(b.SoftExpiry) &&
		a.CreatedAt.IsZero() == b.CreatedAt.IsZero() && a.SoftExpiry.IsZero() == b.SoftExpiry.IsZero() &&
		a.LoadDuration == b.LoadDuration && a.Generation == b.Generation &&
		a.StaleWhileRevalidate == b.StaleWhileRevalidate && a.StaleIfError == b.StaleIfError
}

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	big := newPost(1)
	big.Body = strings.Repeat(big.Body, 10) // compressible, above the threshold
	for _, c := range allCodecs {
		for _, alg := range []Compression{NoCompression, S2, Zstd} {
			for _, in := range []Post{newPost(1), big, {}} {
				t.Run(c.Name()+"/"+alg.String(), func(t *testing.T) {
					t.Parallel()
					e := Envelope{Codec: c, Compression: alg}
					meta := testMeta()
					data, err := e.Encode(in, meta)
					if err != nil {
						t.Fatal(err)
					}
					var got Post
					gotMeta, err := e.Decode(data, &got)
					if err != nil {
						t.Fatalf("Decode = %v", err)
					}
					if !equalPost(got, in) {
						t.Errorf("Decode value = %+v, want %+v", got, in)
					}
					if !sameMeta(gotMeta, meta) {
						t.Errorf("Decode meta = %+v, want %+v", gotMeta, meta)
					}
					if gotMeta.Codec != c {
						t.Errorf("Decode codec = %v, want %v", gotMeta.Codec.Name(), c.Name())
					}
					wantAlg := NoCompression
					if alg != NoCompression && len(in.Body) > DefaultThreshold {
						wantAlg = alg
					}
					if gotMeta.Compression != wantAlg {
						t.Errorf("Decode compression = %v, want %v", gotMeta.Compression, wantAlg)
					}
					m2, err := DecodeMeta(data)
					if err != nil || !sameMeta(m2, meta) || m2.Compression != wantAlg {
						t.Errorf("DecodeMeta = %+v, %v, want %+v", m2, err, meta)
					}
				})
			}
		}
	}
}

func TestEnvelopeZeroMeta(t *testing.T) {
	t.Parallel()
	data, err := Encode(nil, "v", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	var s string
	meta, err := Decode(data, &s)
	if err != nil || s != "v" || !sameMeta(meta, Meta{}) || !meta.CreatedAt.IsZero() || !meta.SoftExpiry.IsZero() {
		t.Errorf("Decode = %q, %+v, %v, want \"v\", zero meta", s, meta, err)
	}
	if meta.Codec != MsgPack {
		t.Errorf("Decode codec = %v, want msgpack (default)", meta.Codec.Name())
	}
}

func TestEnvelopeBadTime(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := Encode(nil, 1, Meta{CreatedAt: tm}); err == nil {
			t.Errorf("Encode(CreatedAt %v) = nil error, want error", tm)
		}
	}
}

func TestEnvelopeKinds(t *testing.T) {
	t.Parallel()
	for _, kind := range []Kind{KindNotFound, KindTombstone} {
		for _, alg := range []Compression{NoCompression, S2} {
			e := Envelope{Compression: alg, Threshold: -1}
			meta := testMeta()
			meta.Kind = kind
			data, err := e.Encode(newPost(1), meta)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > 48 { // header and metadata only
				t.Errorf("Encode(%v) is %d bytes, want no payload", kind, len(data))
			}
			p := newPost(2)
			got, err := Decode(data, &p)
			if err != nil || got.Kind != kind || !sameMeta(got, meta) {
				t.Errorf("Decode(%v) = %+v, %v, want %+v", kind, got, err, meta)
			}
			if p.ID != 0 {
				t.Errorf("Decode(%v) left target %+v, want zero", kind, p)
			}
			if got, err := Decode(data, nil); err != nil || got.Kind != kind {
				t.Errorf("Decode(%v, nil) = %+v, %v", kind, got, err)
			}
		}
	}
	if _, err := Encode(nil, 1, Meta{Kind: 3}); err == nil {
		t.Error("Encode(Kind 3) = nil error, want error")
	}
}

// anyReader decodes entries of every built-in codec (tests that explore the
// payload decoders need it; a real reader accepts one codec).
var anyReader = &Envelope{Codec: MsgPack, Accept: []Codec{JSON, Gob, Raw}}

// TestEnvelopeCodecIsReadersChoice: an envelope decodes only with the
// reader's codec (or one it accepts); an entry naming another codec is
// ErrCorrupt and ErrCodecMismatch, whatever its payload, and the target is
// left zeroed.
func TestEnvelopeCodecIsReadersChoice(t *testing.T) {
	t.Parallel()
	codecs := append([]Codec{Raw}, allCodecs...)
	for _, w := range codecs {
		for _, alg := range []Compression{NoCompression, S2, Zstd} {
			var v any = newPost(3)
			if w == Raw {
				v = []byte("raw bytes")
			}
			data, err := (&Envelope{Codec: w, Compression: alg, Threshold: -1}).Encode(v, Meta{Generation: 9})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range codecs {
				got := newPost(8) // not zero: a failed Decode must zero it
				_, err := (&Envelope{Codec: r}).Decode(data, &got)
				var mismatch *CodecMismatchError
				switch {
				case r == w && w == Raw:
					// Raw cannot decode into a Post; not this test's concern.
				case r == w:
					if err != nil || !equalPost(got, newPost(3)) {
						t.Errorf("%s reader, %s/%v entry: Decode = %+v, %v, want post 3", r.Name(), w.Name(), alg, got, err)
					}
				case !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrCodecMismatch) ||
					!errors.As(err, &mismatch) || mismatch.ID != w.ID() || mismatch.Want != r:
					t.Errorf("%s reader, %s/%v entry: Decode = %v, want CodecMismatchError{%d, %s}", r.Name(), w.Name(), alg, err, w.ID(), r.Name())
				case !equalPost(got, Post{}):
					t.Errorf("%s reader, %s/%v entry: failed Decode left %+v, want zero", r.Name(), w.Name(), alg, got)
				}
				// A migration: the reader accepts the writer's codec too.
				if r != w && w != Raw {
					got = Post{}
					m, err := (&Envelope{Codec: r, Accept: []Codec{nil, w}}).Decode(data, &got)
					if err != nil || !equalPost(got, newPost(3)) || m.Codec != w || m.Generation != 9 {
						t.Errorf("%s reader accepting %s, %v entry: Decode = %+v, %+v, %v, want post 3", r.Name(), w.Name(), alg, m, got, err)
					}
				}
			}
		}
	}
	// The package-level Decode reads Default (msgpack) entries only.
	data, _ := (&Envelope{Codec: JSON}).Encode(newPost(3), Meta{})
	var p Post
	if _, err := Decode(data, &p); !errors.Is(err, ErrCodecMismatch) {
		t.Errorf("Decode(json entry) = %v, want ErrCodecMismatch", err)
	}
	data, _ = Encode(nil, newPost(3), Meta{})
	if _, err := Decode(data, &p); err != nil || !equalPost(p, newPost(3)) {
		t.Errorf("Decode(msgpack entry) = %+v, %v, want post 3", p, err)
	}
}

// upperCodec is a codec the package does not know (ID 200).
type upperCodec struct{}

func (upperCodec) Name() string                    { return "upper" }
func (upperCodec) ID() byte                        { return 200 }
func (upperCodec) Marshal(v any) ([]byte, error)   { return []byte(strings.ToUpper(v.(string))), nil }
func (upperCodec) Unmarshal(b []byte, v any) error { *v.(*string) = string(b); return nil }

// TestEnvelopeCustomCodec: a reader's own codec decodes its own entries,
// although the package does not know its ID.
func TestEnvelopeCustomCodec(t *testing.T) {
	t.Parallel()
	e := Envelope{Codec: upperCodec{}}
	data, err := e.Encode("shout", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if m, err := e.Decode(data, &s); err != nil || s != "SHOUT" || m.Codec != (upperCodec{}) {
		t.Errorf("Decode(custom codec entry) = %q, %v, %v, want \"SHOUT\"", s, m.Codec, err)
	}
	if _, err := Decode(data, &s); !errors.Is(err, ErrCodecMismatch) || !strings.Contains(err.Error(), "id 200") {
		t.Errorf("default Decode(custom codec entry) = %v, want ErrCodecMismatch naming id 200", err)
	}
	if _, err := DecodeMeta(data); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeMeta(custom codec entry) = %v, want ErrCorrupt (unknown built-in)", err)
	}
}

func TestEnvelopeThreshold(t *testing.T) {
	t.Parallel()
	small := strings.Repeat("a", 100)
	large := strings.Repeat("a", 4000)
	random := make([]byte, 4000)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	cases := []struct {
		name      string
		threshold int
		v         any
		want      Compression
	}{
		{"small-default", 0, small, NoCompression},
		{"large-default", 0, large, S2},
		{"small-threshold-50", 50, small, S2},
		{"large-threshold-5000", 5000, large, NoCompression},
		{"incompressible", -1, random, NoCompression},
		{"always", -1, strings.Repeat("a", 64), S2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := Envelope{Codec: Raw, Compression: S2, Threshold: tc.threshold}
			data, err := e.Encode(tc.v, Meta{})
			if err != nil {
				t.Fatal(err)
			}
			meta, err := DecodeMeta(data)
			if err != nil || meta.Compression != tc.want {
				t.Errorf("DecodeMeta(Encode(%s)).Compression = %v, %v, want %v", tc.name, meta.Compression, err, tc.want)
			}
			bare, _ := Raw.Marshal(tc.v)
			if tc.want != NoCompression && len(data) >= len(bare) {
				t.Errorf("compressed envelope is %d bytes, bare value %d", len(data), len(bare))
			}
		})
	}
}

// validEnvelopes returns envelopes of every codec, compression and kind.
func validEnvelopes(t testing.TB) [][]byte {
	var out [][]byte
	big := newPost(1)
	big.Body = strings.Repeat(big.Body, 4)
	for _, c := range allCodecs {
		for _, alg := range []Compression{NoCompression, S2, Zstd} {
			e := Envelope{Codec: c, Compression: alg}
			for _, v := range []Post{newPost(1), big} {
				data, err := e.Encode(v, testMeta())
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, data)
			}
		}
	}
	for _, kind := range []Kind{KindNotFound, KindTombstone} {
		data, err := Encode(nil, nil, Meta{Kind: kind, Generation: 7})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func TestEnvelopeBitFlips(t *testing.T) {
	t.Parallel()
	for i, data := range validEnvelopes(t) {
		flipped := bytes.Clone(data)
		for bit := range len(data) * 8 {
			flipped[bit/8] ^= 1 << (bit % 8)
			var p Post
			if _, err := anyReader.Decode(flipped, &p); !errors.Is(err, ErrCorrupt) {
				t.Errorf("envelope %d: Decode(bit %d flipped) = %v, want ErrCorrupt", i, bit, err)
			}
			if _, err := DecodeMeta(flipped); !errors.Is(err, ErrCorrupt) {
				t.Errorf("envelope %d: DecodeMeta(bit %d flipped) = %v, want ErrCorrupt", i, bit, err)
			}
			flipped[bit/8] ^= 1 << (bit % 8)
		}
	}
}

func TestEnvelopeTruncated(t *testing.T) {
	t.Parallel()
	for i, data := range validEnvelopes(t) {
		for n := range len(data) {
			var p Post
			if _, err := anyReader.Decode(data[:n], &p); !errors.Is(err, ErrCorrupt) {
				t.Errorf("envelope %d: Decode(first %d of %d bytes) = %v, want ErrCorrupt", i, n, len(data), err)
			}
		}
	}
}

// withCRC re-seals data whose body was edited, so only the edit is wrong.
func withCRC(body []byte) []byte { return finish(nil, body, nil) }

func TestEnvelopeForeignAndInvalid(t *testing.T) {
	t.Parallel()
	post, _ := MsgPack.Marshal(newPost(1))
	jsonPost, _ := JSON.Marshal(newPost(1))
	gobPost, _ := Gob.Marshal(newPost(1))
	random := make([]byte, 600)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	valid, _ := Encode(nil, newPost(1), testMeta())
	body := valid[:len(valid)-crcSize]
	edit := func(i int, b byte) []byte {
		c := bytes.Clone(body)
		c[i] = b
		return withCRC(c)
	}
	cases := map[string][]byte{
		"nil":              nil,
		"msgpack":          post,
		"json":             jsonPost,
		"gob":              gobPost,
		"random":           random,
		"text":             []byte("hello, world, this is not an envelope"),
		"version-0":        edit(2, 0),
		"version-2":        edit(2, 2),
		"codec-0":          edit(3, 0),
		"codec-99":         edit(3, 99),
		"compression-3":    edit(4, 3),
		"kind-3":           edit(4, 3<<flagKindBit),
		"flag-bit-4":       edit(4, 0x10),
		"codec-json":       edit(3, idJSON), // valid header, payload is not JSON
		"compression-s2":   edit(4, byte(S2)),
		"compression-zstd": edit(4, byte(Zstd)),
		"tombstone+data":   edit(4, byte(KindTombstone)<<flagKindBit),
		"overlong-varint":  withCRC([]byte{magic0, magic1, version, idMsgPack, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}),
		"bad-crc":          append(bytes.Clone(body), 0, 0, 0, 0),
	}
	for name, data := range cases {
		var p Post
		if _, err := anyReader.Decode(data, &p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode(%s) = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestCompressionBomb(t *testing.T) {
	// Not parallel: measures allocations.
	zeros := make([]byte, 32<<20)
	s2Bomb := s2.Encode(nil, zeros)
	zstdBomb := zstdEncoder().EncodeAll(zeros, nil)
	// A 1 GiB declared s2 length with no data behind it.
	s2Huge := binary.AppendUvarint(nil, 1<<30)
	s2Huge = append(s2Huge, 0x00)
	// zstd frames whose header claims 1 GiB, or less than the real content.
	small := zstdEncoder().EncodeAll(make([]byte, 1000), nil)
	desc := small[4]
	if desc&0xc0 != 0x40 || !bytes.Equal(small[5:8], []byte{0x00, 0xe8, 0x02}) { // 2-byte FCS: 1000-256
		t.Fatalf("unexpected zstd header % x", small[:8])
	}
	zstdHuge := append([]byte{0x28, 0xb5, 0x2f, 0xfd, desc&^0xc0 | 0x80, 0x00}, binary.LittleEndian.AppendUint32(nil, 1<<30)...)
	zstdHuge = append(zstdHuge, small[8:]...)
	zstdLiar := append([]byte{0x28, 0xb5, 0x2f, 0xfd, desc, 0x00, 0xf4, 0x00}, small[8:]...) // 500
	zeros = nil

	const maxSize = 1 << 20
	e := Envelope{Codec: Raw, MaxSize: maxSize}
	cases := []struct {
		name string
		alg  Compression
		data []byte
	}{
		{"s2-32MiB", S2, s2Bomb},
		{"zstd-32MiB", Zstd, zstdBomb},
		{"s2-declared-1GiB", S2, s2Huge},
		{"zstd-declared-1GiB", Zstd, zstdHuge},
		{"zstd-declared-500-of-1000", Zstd, zstdLiar},
	}
	for _, tc := range cases {
		env := finish(nil, []byte{magic0, magic1, version, idRaw, byte(tc.alg), 0, 0, 0, 0, 0, 0}, tc.data)
		var b []byte
		var err error
		n := allocated(func() { _, err = e.Decode(env, &b) })
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode(%s) = %v, want ErrCorrupt", tc.name, err)
		}
		if limit := uint64(maxSize) + allocLimit(len(env)); n > limit {
			t.Errorf("Decode(%s) allocated %d bytes, want <= %d", tc.name, n, limit)
		}
		// With the default limit (64 MiB) the 32 MiB payloads decode.
		if len(tc.data) < 1<<20 && tc.name[len(tc.name)-5:] == "32MiB" {
			if _, err := (&Envelope{Codec: Raw}).Decode(env, &b); err != nil || len(b) != 32<<20 {
				t.Errorf("Decode(%s) with default MaxSize = %d bytes, %v, want 32 MiB", tc.name, len(b), err)
			}
		}
	}
}

// TestLyingCompressedSizeBounded: a compressed payload whose header claims
// far more than its data produces is rejected without allocating the
// claimed size, at the default MaxSize.
func TestLyingCompressedSizeBounded(t *testing.T) {
	// Not parallel: measures allocations.
	const claim = 63 << 20
	s2Lie := binary.AppendUvarint(nil, claim)
	s2Lie = append(s2Lie, 0x00, 'x') // one literal byte
	small := zstdEncoder().EncodeAll(make([]byte, 1000), nil)
	desc := small[4]
	zstdLie := append([]byte{0x28, 0xb5, 0x2f, 0xfd, desc&^0xc0 | 0x80, 0x00}, binary.LittleEndian.AppendUint32(nil, claim)...)
	zstdLie = append(zstdLie, small[8:]...)
	for _, tc := range []struct {
		name string
		alg  Compression
		data []byte
	}{{"s2", S2, s2Lie}, {"zstd", Zstd, zstdLie}} {
		env := finish(nil, []byte{magic0, magic1, version, idRaw, byte(tc.alg), 0, 0, 0, 0, 0, 0}, tc.data)
		var b []byte
		var err error
		n := allocated(func() { _, err = (&Envelope{Codec: Raw}).Decode(env, &b) })
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrCodecMismatch) {
			t.Errorf("Decode(%s claiming %d bytes) = %v, want ErrCorrupt", tc.name, claim, err)
		}
		if limit := allocLimit(len(env)) + 8*uint64(len(env)); n > limit {
			t.Errorf("Decode(%s claiming %d bytes) allocated %d bytes, want <= %d", tc.name, claim, n, limit)
		}
	}
}

// TestCompressionRoundTripSizes: real payloads of many sizes, compressible
// and not, survive both compressors (the s2 walker and the zstd growth
// path must accept everything the encoders produce).
func TestCompressionRoundTripSizes(t *testing.T) {
	t.Parallel()
	rnd := make([]byte, 3<<20)
	for i := range rnd {
		rnd[i] = byte(i*7919 + i/13)
	}
	for _, size := range []int{1, 100, 1 << 10, 70_000, 1 << 20, 3 << 20} {
		for _, data := range [][]byte{bytes.Repeat([]byte("cachekit "), size/9+1)[:size], rnd[:size]} {
			for _, alg := range []Compression{S2, Zstd} {
				e := Envelope{Codec: Raw, Compression: alg, Threshold: -1}
				enc, err := e.Encode(data, Meta{})
				if err != nil {
					t.Fatal(err)
				}
				var out []byte
				if _, err := e.Decode(enc, &out); err != nil || !bytes.Equal(out, data) {
					t.Fatalf("%v round trip of %d bytes: err %v, equal %v", alg, size, err, bytes.Equal(out, data))
				}
			}
		}
	}
}
