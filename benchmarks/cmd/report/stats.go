package main

import (
	"slices"
	"sort"
	"strings"
)

// Series is one ratio measured repeatedly: Group is the sub-benchmark
// ("ref=syncmap"), Metric the ratio's unit ("memo/syncmap").
type Series struct {
	Group, Metric string
	Vals          []float64
}

// Median, Min and Max of the repeats.
func (s Series) Median() float64 { return median(s.Vals) }

// Min is the smallest repeat.
func (s Series) Min() float64 { return slices.Min(s.Vals) }

// Max is the largest repeat.
func (s Series) Max() float64 { return slices.Max(s.Vals) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	sort.Float64s(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// RatioSeries groups the ratio metrics of results by sub-benchmark and
// unit, in order of first appearance.
func RatioSeries(results []Result) []Series {
	return series(results, IsRatio)
}

// AbsSeries is like RatioSeries for the absolute per-call figures the
// interleaved benchmarks report next to their ratio ("memo-ns/call",
// "cachekit-req/s", "parallel-ns/op").
func AbsSeries(results []Result) []Series {
	return series(results, func(u string) bool { return strings.Contains(u, "-") && !IsRatio(u) })
}

// series groups the metrics of results whose unit keep accepts by
// sub-benchmark and unit, in order of first appearance (units sorted
// within a result).
func series(results []Result, keep func(unit string) bool) []Series {
	var out []Series
	idx := map[string]int{}
	for _, r := range results {
		group := r.Name
		if _, sub, ok := strings.Cut(r.Name, "/"); ok {
			group = sub
		}
		units := make([]string, 0, len(r.Metrics))
		for u := range r.Metrics {
			if keep(u) {
				units = append(units, u)
			}
		}
		sort.Strings(units)
		for _, u := range units {
			k := group + "\x00" + u
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, Series{Group: group, Metric: u})
			}
			out[i].Vals = append(out[i].Vals, r.Metrics[u])
		}
	}
	return out
}
