package codecbench

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/cachekit/cachekit/codec"
)

// runner holds one Compare call.
type runner[T any] struct {
	o       Options
	samples []T
	boxed   []any // the samples as Encode receives them, boxed once
	cells   []*cell
	done    int
	total   int
}

// cell is one codec × compression.
type cell struct {
	res    Result
	env    *codec.Envelope
	data   [][]byte   // one envelope per sample
	perOp  [2]float64 // calibration: ns per encode, per decode
	ns     [2][]float64
	allocs [2][]float64
	bytes  [2][]float64
}

const (
	phaseEncode = 0
	phaseDecode = 1
)

func (r *runner[T]) run() *Report {
	r.boxed = make([]any, len(r.samples))
	for i := range r.samples {
		r.boxed[i] = r.samples[i]
	}
	for _, c := range r.o.Codecs {
		for _, comp := range r.o.Compressions {
			r.cells = append(r.cells, &cell{
				res: Result{Codec: c.Name(), Compression: comp.String()},
				env: &codec.Envelope{Codec: c, Compression: comp, Threshold: r.o.Threshold},
			})
		}
	}
	r.total = len(r.cells) * (1 + 2*r.o.Repeats)
	plain := map[string]float64{} // codec name → uncompressed envelope size
	for _, c := range r.cells {
		r.verify(c)
		r.step()
		if c.res.OK() && c.env.Compression == codec.NoCompression {
			plain[c.res.Codec] = c.res.Size
		}
	}
	r.timeAll()
	rep := &Report{Label: r.o.Label, Samples: len(r.samples), Repeats: r.o.Repeats}
	for _, c := range r.cells {
		if c.res.OK() {
			base, ok := plain[c.res.Codec]
			if !ok {
				base = r.plainSize(c.env.Codec)
			}
			c.res.Ratio = base / c.res.Size
			c.res.Encode = summarize(c.ns[phaseEncode], c.allocs[phaseEncode], c.bytes[phaseEncode])
			c.res.Decode = summarize(c.ns[phaseDecode], c.allocs[phaseDecode], c.bytes[phaseDecode])
		}
		rep.Results = append(rep.Results, c.res)
	}
	rep.Recommendation = rep.recommendation()
	return rep
}

func (r *runner[T]) step() {
	r.done++
	if r.o.Progress != nil {
		r.o.Progress(r.done, r.total)
	}
}

// verify encodes and decodes every sample once, checks the round trip
// and calibrates the timed runs.
func (r *runner[T]) verify(c *cell) {
	start := time.Now()
	var size int
	for _, v := range r.boxed {
		data, err := c.env.Encode(v, meta)
		if err != nil {
			c.res.Err = "cannot encode: " + err.Error()
			return
		}
		c.data = append(c.data, data)
		size += len(data)
	}
	c.perOp[phaseEncode] = float64(time.Since(start)) / float64(len(r.boxed))
	start = time.Now()
	for i, data := range c.data {
		got := new(T)
		if _, err := c.env.Decode(data, got); err != nil {
			c.res.Err = fmt.Sprintf("cannot decode sample %d: %v", i, err)
			return
		}
		if reason := r.differ(got, &r.samples[i]); reason != "" {
			c.res.Err = fmt.Sprintf("loses data (sample %d): %s", i, reason)
			return
		}
	}
	c.perOp[phaseDecode] = float64(time.Since(start)) / float64(len(c.data))
	c.res.Size = float64(size) / float64(len(c.data))
}

// differ reports how got differs from want, or "".
func (r *runner[T]) differ(got, want *T) string {
	if r.o.Equal != nil {
		if r.o.Equal(got, want) {
			return ""
		}
		return "Options.Equal reports a difference"
	}
	return Diff(*got, *want)
}

// plainSize is the mean uncompressed envelope size of c over the samples.
func (r *runner[T]) plainSize(c codec.Codec) float64 {
	env := codec.Envelope{Codec: c}
	var n int
	for _, v := range r.boxed {
		data, err := env.Encode(v, meta)
		if err != nil {
			return 0
		}
		n += len(data)
	}
	return float64(n) / float64(len(r.boxed))
}

// timeAll runs the timed repeats, interleaved: repeat k of every cell
// before repeat k+1 of any.
func (r *runner[T]) timeAll() {
	var ok []*cell
	for _, c := range r.cells {
		if c.res.OK() {
			ok = append(ok, c)
		} else {
			r.done += 2 * r.o.Repeats
		}
	}
	if len(ok) == 0 {
		if r.o.Progress != nil {
			r.o.Progress(r.total, r.total)
		}
		return
	}
	budget := float64(r.o.Time) / float64(len(ok)*2*r.o.Repeats) // ns per run
	for range r.o.Repeats {
		// Each run is cut into slices taken round-robin across the
		// combinations, so a burst of load from other processes spreads
		// over all of them instead of landing on one.
		runtime.GC()
		sums := make([][2]measurement, len(ok))
		for slice := range runSlices {
			for i, c := range ok {
				for phase := range 2 {
					n := int(min(max(budget/max(c.perOp[phase], 1)/runSlices, 1), maxIterations))
					m := r.timed(c, phase, n, budget/runSlices)
					sums[i][phase].add(m)
					if slice == runSlices-1 {
						r.step()
					}
				}
			}
		}
		for i, c := range ok {
			for phase := range 2 {
				m := sums[i][phase]
				ops := float64(m.ops)
				c.ns[phase] = append(c.ns[phase], float64(m.elapsed)/ops)
				c.allocs[phase] = append(c.allocs[phase], float64(m.mallocs)/ops)
				c.bytes[phase] = append(c.bytes[phase], float64(m.bytes)/ops)
			}
		}
	}
}

// runSlices is the number of round-robin slices of one timed run.
const runSlices = 8

// maxBatch bounds the operations run between two looks at the clock.
const maxBatch = 4096

// measurement is one timed run.
type measurement struct {
	ops            int
	elapsed        time.Duration
	mallocs, bytes uint64
}

// add accumulates m.
func (s *measurement) add(m measurement) {
	s.ops += m.ops
	s.elapsed += m.elapsed
	s.mallocs += m.mallocs
	s.bytes += m.bytes
}

// timed runs about n operations of phase on c, cycling over the samples,
// and stops after the first batch that ends past budget (ns). The clock
// is read after each batch; the batch grows from one operation to what
// the measured rate says takes about an eighth of the budget (at most
// maxBatch), so a slow codec or a loaded machine stops soon after the
// budget instead of after a fixed count.
func (r *runner[T]) timed(c *cell, phase, n int, budget float64) measurement {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	done, batch := 0, 1
	for done < n {
		end := min(done+batch, n)
		if phase == phaseEncode {
			for i := done; i < end; i++ {
				// The round trip succeeded for these samples: no errors.
				_, _ = c.env.Encode(r.boxed[i%len(r.boxed)], meta)
			}
		} else {
			for i := done; i < end; i++ {
				_, _ = c.env.Decode(c.data[i%len(c.data)], new(T))
			}
		}
		done = end
		spent := float64(time.Since(start))
		if spent >= budget {
			break
		}
		batch = maxBatch
		if perOp := spent / float64(done); perOp > 0 {
			batch = int(min(max((budget/8)/perOp, 1), maxBatch))
		}
	}
	el := time.Since(start)
	runtime.ReadMemStats(&m1)
	return measurement{ops: done, elapsed: el, mallocs: m1.Mallocs - m0.Mallocs, bytes: m1.TotalAlloc - m0.TotalAlloc}
}

// summarize reduces the repeats of one phase to a Cost.
func summarize(ns, allocs, bytes []float64) Cost {
	return Cost{NsPerOp: spanOf(ns), AllocsPerOp: median(allocs), BytesPerOp: median(bytes)}
}

func spanOf(xs []float64) Span {
	if len(xs) == 0 {
		return Span{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Span{Min: s[0], Median: median(s), Max: s[len(s)-1]}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
