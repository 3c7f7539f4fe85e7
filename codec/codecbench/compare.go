package codecbench

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/cachekit/cachekit/codec"
)

// Options configures [Compare]. A nil *Options, like the zero value,
// selects every default.
type Options struct {
	// Codecs are the codecs compared. Default: [codec.MsgPack],
	// [codec.JSON], [codec.Gob], and [codec.Raw] when T is []byte or
	// string.
	Codecs []codec.Codec
	// Compressions are the compressions compared with each codec.
	// Default: none, S2 and Zstd.
	Compressions []codec.Compression
	// Threshold is the Envelope.Threshold used with compression. Default
	// (0): every non-empty payload is compressed (Threshold -1), so small
	// values show what compression does to them too. Set it to your
	// cache's threshold to measure what your cache will store.
	Threshold int
	// Equal decides whether a decoded value equals its sample. Default:
	// [Diff] finds no difference (reflect.DeepEqual, with times compared
	// by instant and nil equal to empty).
	// The arguments are a *T holding the decoded value and a *T
	// pointing at the sample.
	Equal func(got, want any) bool
	// Time is the total time spent in timed runs (the round-trip checks
	// come on top). Default 3 s.
	Time time.Duration
	// Repeats is the number of timed runs per figure; the report gives
	// their min, median and max. Default 5.
	Repeats int
	// Label names the data in the report. Default: the Go type of T.
	Label string
	// Progress, if set, is called after each step with the number of
	// steps done and the total, from the goroutine running Compare.
	Progress func(done, total int)
}

// Defaults of [Options].
const (
	DefaultTime    = 3 * time.Second
	DefaultRepeats = 5
)

var (
	// ErrNoSamples is returned by [Compare] when given no samples.
	ErrNoSamples = errors.New("codecbench: no samples")
	// ErrOptions is wrapped by the error of [Compare] for invalid options.
	ErrOptions = errors.New("codecbench: invalid options")
)

// maxIterations bounds one timed run, whatever the calibration says.
const maxIterations = 1 << 24

// meta is the metadata stored with every sample, like memo stores it.
var meta = codec.Meta{
	CreatedAt:    time.Unix(1_700_000_000, 0),
	SoftExpiry:   time.Unix(1_700_000_300, 0),
	LoadDuration: 3 * time.Millisecond,
	Generation:   12345,
}

// Compare encodes every sample with every codec × compression through a
// real [codec.Envelope] (its Codec set explicitly each time), decodes it
// into a fresh T and checks that it equals the sample. A combination
// that cannot encode T or loses data is reported with its error and not
// timed. The others are timed: Repeats runs each of encode and decode,
// interleaved across combinations so that machine noise hits them alike,
// within opts.Time in total.
//
// Compare is CPU-bound and runs on the calling goroutine; it reads
// runtime.MemStats to count allocations, so allocations by other
// goroutines during the run are counted too.
func Compare[T any](samples []T, opts *Options) (*Report, error) {
	o, err := withDefaults[T](opts)
	if err != nil {
		return nil, err
	}
	if len(samples) == 0 {
		return nil, ErrNoSamples
	}
	r := &runner[T]{o: o, samples: samples}
	return r.run(), nil
}

func withDefaults[T any](o *Options) (Options, error) {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Time < 0 || out.Repeats < 0 {
		return out, fmt.Errorf("%w: negative Time or Repeats", ErrOptions)
	}
	if out.Time == 0 {
		out.Time = DefaultTime
	}
	if out.Repeats == 0 {
		out.Repeats = DefaultRepeats
	}
	if out.Codecs == nil {
		out.Codecs = []codec.Codec{codec.MsgPack, codec.JSON, codec.Gob}
		if t := reflect.TypeFor[T](); t == reflect.TypeFor[[]byte]() || t == reflect.TypeFor[string]() {
			out.Codecs = append(out.Codecs, codec.Raw)
		}
	}
	if out.Compressions == nil {
		out.Compressions = []codec.Compression{codec.NoCompression, codec.S2, codec.Zstd}
	}
	for _, c := range out.Codecs {
		if c == nil {
			return out, fmt.Errorf("%w: nil codec", ErrOptions)
		}
	}
	for _, c := range out.Compressions {
		if c > codec.Zstd {
			return out, fmt.Errorf("%w: unknown compression %v", ErrOptions, c)
		}
	}
	if out.Threshold == 0 {
		out.Threshold = -1
	}
	if out.Label == "" {
		out.Label = reflect.TypeFor[T]().String()
	}
	return out, nil
}
