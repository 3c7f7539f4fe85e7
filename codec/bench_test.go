package codec

import (
	"slices"
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
	for _, val := range benchValues {
		b.Run(val.name, func(b *testing.B) {
			data, err := MsgPack.Marshal(val.value)
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
		})
	}
}

// BenchmarkEnvelopeOverhead runs the bare msgpack codec and the envelope
// within each iteration, in rotating order (so machine noise and cache
// warmth hit both alike), on the Post and on a 20-post Feed, and reports the
// median over iterations of the envelope's time ratio for encode and decode
// (target < 1.10). decode-env/lib compares the envelope with msgpack's own
// Unmarshal (no pre-validation walk, no checksum).
func BenchmarkEnvelopeOverhead(b *testing.B) {
	for _, val := range benchValues {
		b.Run(val.name, func(b *testing.B) {
			var env Envelope
			now := time.Now()
			meta := Meta{CreatedAt: now, SoftExpiry: now.Add(time.Minute), LoadDuration: 3 * time.Millisecond, Generation: 12345}
			bare, _ := MsgPack.Marshal(val.value)
			sealed, _ := env.Encode(val.value, meta)
			check := func(err error) {
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			r := interleave(b,
				func() { _, err := MsgPack.Marshal(val.value); check(err) },
				func() { _, err := env.Encode(val.value, meta); check(err) },
				func() { check(MsgPack.Unmarshal(bare, val.fresh())) },
				func() { _, err := env.Decode(sealed, val.fresh()); check(err) },
				func() { check(msgpack.Unmarshal(bare, val.fresh())) },
			)
			b.ReportMetric(r(1, 0), "encode-env/bare")
			b.ReportMetric(r(3, 2), "decode-env/bare")
			b.ReportMetric(r(3, 4), "decode-env/lib")
			b.ReportMetric(float64(len(sealed))/float64(len(bare)), "size-env/bare")
		})
	}
}

// interleave calls every fn once per b.Loop iteration, starting at a
// different fn each time, and returns ratio(i, j): the median over
// iterations of fn i's time divided by fn j's time in the same iteration (a
// preempted call spoils one sample, not the sum).
func interleave(b *testing.B, fns ...func()) func(i, j int) float64 {
	times := make([][]int64, len(fns))
	for it := 0; b.Loop(); it++ {
		for k := range fns {
			f := (it + k) % len(fns)
			t0 := nanotime()
			fns[f]()
			times[f] = append(times[f], nanotime()-t0)
		}
	}
	return func(i, j int) float64 {
		ratios := make([]float64, len(times[i]))
		for k := range ratios {
			ratios[k] = float64(times[i][k]) / float64(max(times[j][k], 1))
		}
		slices.Sort(ratios)
		if len(ratios) == 0 {
			return 0
		}
		return ratios[len(ratios)/2]
	}
}

var benchStart = time.Now()

// nanotime reads the monotonic clock (one vDSO call, unlike time.Now).
func nanotime() int64 { return int64(time.Since(benchStart)) }

// BenchmarkDecodeBatchInterleaved decodes 100 enveloped Posts, held in one
// buffer as a MGET's reply leaves them, into one slice of values: with
// DecodeBatch, and with Decode per entry, alternating (see interleave), and
// reports the median ratio (batch/each) of their times per iteration.
func BenchmarkDecodeBatchInterleaved(b *testing.B) {
	var env Envelope
	now := time.Now()
	meta := Meta{CreatedAt: now, SoftExpiry: now.Add(time.Hour), LoadDuration: 3 * time.Millisecond, Generation: 1}
	var buf []byte
	var ends []int
	for i := range 100 {
		var err error
		if buf, err = env.AppendEncode(buf, newPost(int64(i)), meta); err != nil {
			b.Fatal(err)
		}
		ends = append(ends, len(buf))
	}
	data := make([][]byte, len(ends))
	for i, end := range ends {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		data[i] = buf[start:end:end]
	}
	targets := make([]any, len(data))
	metas := make([]Meta, len(data))
	errs := make([]error, len(data))
	var sink []Post
	b.ReportAllocs()
	r := interleave(b,
		func() {
			vals := make([]Post, len(data))
			for i := range data {
				targets[i] = &vals[i]
			}
			env.DecodeBatch(data, targets, metas, errs)
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			sink = vals
		},
		func() {
			vals := make([]Post, len(data))
			for i, d := range data {
				if _, err := env.Decode(d, &vals[i]); err != nil {
					b.Fatal(err)
				}
			}
			sink = vals
		},
	)
	_ = sink
	b.ReportMetric(r(0, 1), "batch/each")
}
