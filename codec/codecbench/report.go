package codecbench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// Report is the outcome of [Compare]: one [Result] per codec and
// compression, in the order they ran, and a recommendation.
type Report struct {
	// Label names the compared data (Options.Label, default the Go type).
	Label string `json:"label"`
	// Samples is the number of sample values.
	Samples int `json:"samples"`
	// Repeats is how many timed runs each figure's min–max spans.
	Repeats int `json:"repeats"`
	// Results holds one entry per codec × compression.
	Results []Result `json:"results"`
	// Recommendation is the suggested combination and why; see
	// [Report.Recommend]. Empty when no combination round-tripped.
	Recommendation string `json:"recommendation"`
}

// Result is what one codec × compression did with the samples. Sizes and
// times are per sample (per op): the mean over the samples.
type Result struct {
	Codec       string `json:"codec"`       // codec name, such as "msgpack"
	Compression string `json:"compression"` // "none", "s2" or "zstd"
	// Err says why this combination was not timed: the codec cannot
	// encode the type, or the round trip lost data. Empty when OK.
	Err string `json:"error,omitempty"`
	// Size is the mean envelope size in bytes, header and checksum
	// included.
	Size float64 `json:"size_bytes"`
	// Ratio is the uncompressed envelope size of the same codec divided
	// by Size (1 for "none"; 2 means half the bytes).
	Ratio float64 `json:"ratio"`
	// Encode and Decode are the measured costs of one Envelope.Encode and
	// one Envelope.Decode into a fresh value.
	Encode Cost `json:"encode"`
	Decode Cost `json:"decode"`
}

// OK reports whether the combination round-tripped every sample and was
// timed.
func (r *Result) OK() bool { return r.Err == "" }

// Name is "codec+compression", such as "msgpack+s2".
func (r *Result) Name() string { return r.Codec + "+" + r.Compression }

// Cost is the cost of one operation. NsPerOp spans the repeats;
// allocations are the median repeat (they barely vary).
type Cost struct {
	NsPerOp     Span    `json:"ns_per_op"`     // wall time per operation, over the repeats
	AllocsPerOp float64 `json:"allocs_per_op"` // heap allocations per operation
	BytesPerOp  float64 `json:"bytes_per_op"`  // heap bytes allocated per operation
}

// Span is a measurement over repeated runs: the fastest, the median and
// the slowest.
type Span struct {
	Min    float64 `json:"min"`    // the fastest run
	Median float64 `json:"median"` // the median run
	Max    float64 `json:"max"`    // the slowest run
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// decodeSlack is how much slower than the fastest decode the recommended
// combination may be.
const decodeSlack = 0.10

// Recommend picks, among the combinations that round-tripped, the
// smallest one whose median decode time is within 10% of the fastest
// median decode (a cache decodes on every hit but encodes once per load),
// and returns it with the reason, or ok=false when none round-tripped.
// Ties on size go to the faster decode.
func (r *Report) Recommend() (best *Result, reason string, ok bool) {
	var fastest *Result
	for i := range r.Results {
		res := &r.Results[i]
		if res.OK() && (fastest == nil || res.Decode.NsPerOp.Median < fastest.Decode.NsPerOp.Median) {
			fastest = res
		}
	}
	if fastest == nil {
		return nil, "", false
	}
	limit := fastest.Decode.NsPerOp.Median * (1 + decodeSlack)
	for i := range r.Results {
		res := &r.Results[i]
		if !res.OK() || res.Decode.NsPerOp.Median > limit {
			continue
		}
		if best == nil || res.Size < best.Size ||
			(res.Size == best.Size && res.Decode.NsPerOp.Median < best.Decode.NsPerOp.Median) {
			best = res
		}
	}
	if best == fastest {
		reason = fmt.Sprintf("fastest decode (%s) and the smallest (%s) of those within %d%% of it",
			fmtNs(best.Decode.NsPerOp.Median), fmtBytes(best.Size), int(decodeSlack*100))
	} else {
		reason = fmt.Sprintf("smallest (%s) within %d%% of the fastest decode (%s %s; this one %s)",
			fmtBytes(best.Size), int(decodeSlack*100), fastest.Name(),
			fmtNs(fastest.Decode.NsPerOp.Median), fmtNs(best.Decode.NsPerOp.Median))
	}
	return best, reason, true
}

func (r *Report) recommendation() string {
	best, reason, ok := r.Recommend()
	if !ok {
		return ""
	}
	return best.Name() + ": " + reason
}

// fmtNs formats nanoseconds with a unit that keeps 3 significant digits.
func fmtNs(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "-"
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	}
	return time.Duration(ns).Round(time.Millisecond).String()
}

// fmtBytes formats a size in bytes, KiB or MiB.
func fmtBytes(b float64) string {
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%.0f B", b)
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
}
