package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Result is one benchmark result line: the sub-benchmark name (without
// the "Benchmark" prefix and the -GOMAXPROCS suffix) and its metrics by
// unit ("ns/op", "memo/syncmap", ...).
type Result struct {
	Name    string
	Metrics map[string]float64
}

// testEvent is the part of a `go test -json` event the parser reads.
type testEvent struct {
	Action string
	Output string
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// ParseTestJSON reads `go test -json -bench` output and returns every
// benchmark result line, in order. A result line may be split over
// several output events (the name first, the numbers when the benchmark
// ends), so the output is joined before it is split into lines. onResult,
// if not nil, is called as each result is parsed (progress).
func ParseTestJSON(r io.Reader, onResult func(Result)) ([]Result, error) {
	var out []Result
	var pending strings.Builder
	dec := json.NewDecoder(r)
	for {
		var ev testEvent
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			return out, fmt.Errorf("report: go test -json: %w", err)
		}
		if ev.Action != "output" {
			continue
		}
		pending.WriteString(ev.Output)
		s := pending.String()
		i := strings.LastIndexByte(s, '\n')
		if i < 0 {
			continue
		}
		for _, line := range strings.Split(s[:i], "\n") {
			if res, ok := ParseBenchLine(line); ok {
				out = append(out, res)
				if onResult != nil {
					onResult(res)
				}
			}
		}
		pending.Reset()
		pending.WriteString(s[i+1:])
	}
	if res, ok := ParseBenchLine(pending.String()); ok {
		out = append(out, res)
	}
	return out, nil
}

// ParseBenchLine parses one line of the standard benchmark format:
// "BenchmarkName-2 <iterations> <value> <unit> <value> <unit> ...".
func ParseBenchLine(line string) (Result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return Result{}, false
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return Result{}, false
	}
	res := Result{Name: procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), ""), Metrics: map[string]float64{}}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, false
		}
		res.Metrics[f[i+1]] = v
	}
	return res, true
}

// IsRatio reports whether a metric unit is a ratio reported by an
// interleaved benchmark ("memo/syncmap", "cachekit/souin-rps"), not a
// rate or a per-op figure.
func IsRatio(unit string) bool {
	if strings.Count(unit, "/") != 1 {
		return false
	}
	for _, suf := range []string{"/op", "/call", "/s"} {
		if strings.HasSuffix(unit, suf) {
			return false
		}
	}
	return true
}

// HerdSummary is one library's row of cmd/herd's summary table.
type HerdSummary struct {
	Lib                string
	Trials             int
	MinLoads, MaxLoads int64
	P50, P99, Max      float64 // milliseconds
	Errors             int64
}

// ParseHerd reads cmd/herd's stdout and returns its summary rows.
func ParseHerd(r io.Reader) ([]HerdSummary, error) {
	var out []HerdSummary
	sc := bufio.NewScanner(r)
	inSummary := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "summary") {
			inSummary = true
			continue
		}
		if !inSummary {
			continue
		}
		f := strings.Fields(line)
		// lib trials calls p50 "ms" p99 "ms" max "ms" errors
		if len(f) != 10 || f[0] == "library" {
			continue
		}
		var s HerdSummary
		var err error
		s.Lib = f[0]
		if s.Trials, err = strconv.Atoi(f[1]); err != nil {
			return out, fmt.Errorf("report: herd summary %q: %w", line, err)
		}
		lo, hi, _ := strings.Cut(f[2], "–")
		if s.MinLoads, err = strconv.ParseInt(lo, 10, 64); err != nil {
			return out, fmt.Errorf("report: herd summary %q: %w", line, err)
		}
		s.MaxLoads = s.MinLoads
		if hi != "" {
			if s.MaxLoads, err = strconv.ParseInt(hi, 10, 64); err != nil {
				return out, fmt.Errorf("report: herd summary %q: %w", line, err)
			}
		}
		for i, p := range []*float64{&s.P50, &s.P99, &s.Max} {
			if *p, err = strconv.ParseFloat(f[3+2*i], 64); err != nil {
				return out, fmt.Errorf("report: herd summary %q: %w", line, err)
			}
		}
		if s.Errors, err = strconv.ParseInt(f[9], 10, 64); err != nil {
			return out, fmt.Errorf("report: herd summary %q: %w", line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("report: no herd summary found")
	}
	return out, nil
}
