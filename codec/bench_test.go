package codec

import (
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// benchVariants are the ways a value is stored: the bare codec, and envelopes
// without and with compression (Threshold -1: always try, so the ~700-byte
// Post is compressed too).
var benchVariants = []struct {
	name string
	env  *Envelope // nil = bare codec
	alg  Compression
}{
	{"bare", nil, NoCompression},
	{"envelope", &Envelope{}, NoCompression},
	{"s2", &Envelope{Compression: S2, Threshold: -1}, S2},
	{"zstd", &Envelope{Compression: Zstd, Threshold: -1}, Zstd},
}

var benchValues = []struct {
	name  string
	value any
	fresh func() any
}{
	{"post", newPost(1), func() any { return new(Post) }},
	{"feed", newFeed(), func() any { return new(Feed) }},
}

func benchEnvelope(c Codec, v *Envelope) *Envelope {
	e := *v
	e.Codec = c
	return &e
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range allCodecs {
		for _, val := range benchValues {
			for _, v := range benchVariants {
				b.Run(c.Name()+"/"+val.name+"/"+v.name, func(b *testing.B) {
					encode := func() ([]byte, error) { return c.Marshal(val.value) }
					if v.env != nil {
						e := benchEnvelope(c, v.env)
						meta := testMeta()
						encode = func() ([]byte, error) { return e.Encode(val.value, meta) }
					}
					data, err := encode()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if _, err := encode(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(data)), "bytes")
				})
			}
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range allCodecs {
		for _, val := range benchValues {
			for _, v := range benchVariants {
				b.Run(c.Name()+"/"+val.name+"/"+v.name, func(b *testing.B) {
					var data []byte
					var err error
					decode := func() error { return c.Unmarshal(data, val.fresh()) }
					if v.env == nil {
						data, err = c.Marshal(val.value)
					} else {
						e := benchEnvelope(c, v.env)
						data, err = e.Encode(val.value, testMeta())
						decode = func() error { _, err := e.Decode(data, val.fresh()); return err }
					}
					if err != nil {
						b.Fatal(err)
					}
					if err := decode(); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if err := decode(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(data)), "bytes")
				})
			}
		}
	}
}

func BenchmarkDecodeMeta(b *testing.B) {
	data, err := Encode(nil, newPost(1), testMeta())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMeta(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckMsgpack(b *testing.B) {
	data, err := MsgPack.Marshal(newFeed())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkMsgpack(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvelopeOverhead alternates the bare msgpack codec and the
// envelope within each iteration (so machine noise hits both alike), on the
// Post and on a 20-post Feed, and reports the envelope's time ratio for
// encode and decode (target < 1.10). decode-env/lib compares the envelope
// with msgpack's own Unmarshal (no pre-validation walk).
func BenchmarkEnvelopeOverhead(b *testing.B) {
	for _, val := range benchValues {
		b.Run(val.name, func(b *testing.B) {
			var env Envelope
			now := time.Now()
			meta := Meta{CreatedAt: now, SoftExpiry: now.Add(time.Minute), LoadDuration: 3 * time.Millisecond, Generation: 12345}
			bare, _ := MsgPack.Marshal(val.value)
			sealed, _ := env.Encode(val.value, meta)
			var encBare, encEnv, decBare, decEnv, decLib int64
			b.ReportAllocs()
			for b.Loop() {
				t0 := nanotime()
				if _, err := MsgPack.Marshal(val.value); err != nil {
					b.Fatal(err)
				}
				t1 := nanotime()
				if _, err := env.Encode(val.value, meta); err != nil {
					b.Fatal(err)
				}
				t2 := nanotime()
				if err := MsgPack.Unmarshal(bare, val.fresh()); err != nil {
					b.Fatal(err)
				}
				t3 := nanotime()
				if _, err := env.Decode(sealed, val.fresh()); err != nil {
					b.Fatal(err)
				}
				t4 := nanotime()
				if err := msgpack.Unmarshal(bare, val.fresh()); err != nil {
					b.Fatal(err)
				}
				t5 := nanotime()
				encBare += t1 - t0
				encEnv += t2 - t1
				decBare += t3 - t2
				decEnv += t4 - t3
				decLib += t5 - t4
			}
			b.ReportMetric(float64(encEnv)/float64(encBare), "encode-env/bare")
			b.ReportMetric(float64(decEnv)/float64(decBare), "decode-env/bare")
			b.ReportMetric(float64(decEnv)/float64(decLib), "decode-env/lib")
			b.ReportMetric(float64(len(sealed))/float64(len(bare)), "size-env/bare")
		})
	}
}

var benchStart = time.Now()

// nanotime reads the monotonic clock (one vDSO call, unlike time.Now).
func nanotime() int64 { return int64(time.Since(benchStart)) }
