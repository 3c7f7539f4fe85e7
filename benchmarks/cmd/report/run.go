package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// section is one workload's outcome.
type section struct {
	W        workload
	Ratios   []Series
	Abs      []Series
	Herd     [][]HerdSummary // one summary table per repeat
	Err      string
	Duration time.Duration
}

// runner runs workloads and draws the progress line on stderr.
type runner struct {
	quick        bool
	count        int
	index, total int
	start        time.Time
	herdBin      string
}

func (r *runner) progress(w workload, done int, what string) {
	fmt.Fprintf(os.Stderr, "\r\033[K[%d/%d] %-9s %s %s  (%s elapsed)", r.index, r.total, w.ID,
		bar(done, r.count), what, time.Since(r.start).Round(time.Second))
}

func bar(done, total int) string {
	if total <= 0 {
		return ""
	}
	const n = 20
	k := min(done*n/total, n)
	return "[" + strings.Repeat("#", k) + strings.Repeat(".", n-k) + "]"
}

func (r *runner) runWorkload(w workload) section {
	t0 := time.Now()
	var s section
	if w.HerdProcs > 0 {
		s = r.runHerd(w)
	} else {
		s = r.runBench(w)
	}
	s.W, s.Duration = w, time.Since(t0)
	if s.Err != "" {
		fmt.Fprintf(os.Stderr, "\nreport: %s: %s\n", w.ID, s.Err)
	}
	return s
}

// runBench runs go test -json -bench on the workload's package and
// parses its results as they arrive.
func (r *runner) runBench(w workload) section {
	bt := w.Full
	if r.quick {
		bt = w.Quick
	}
	args := []string{"test", "-run", "^$", "-bench", w.Bench, "-benchtime", bt,
		"-count", strconv.Itoa(r.count), "-timeout", "60m", "-json", w.Pkg}
	cmd := exec.Command("go", args...)
	cmd.Dir = w.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return section{Err: err.Error()}
	}
	r.progress(w, 0, "building")
	if err := cmd.Start(); err != nil {
		return section{Err: err.Error()}
	}
	// Results per sub-benchmark name, to show the repeats done.
	seen := map[string]int{}
	nres := 0
	var raw bytes.Buffer
	results, perr := ParseTestJSON(io.TeeReader(stdout, &raw), func(res Result) {
		// The bar shows the repeats of the sub-benchmark running now (how
		// many sub-benchmarks follow is not known in advance).
		seen[res.Name]++
		nres++
		r.progress(w, seen[res.Name], fmt.Sprintf("%s %d/%d (%d results)", res.Name, seen[res.Name], r.count, nres))
	})
	werr := cmd.Wait()
	s := section{Ratios: RatioSeries(results), Abs: AbsSeries(results)}
	switch {
	case perr != nil:
		s.Err = perr.Error()
	case werr != nil:
		out := failOutput(raw.Bytes())
		s.Err = fmt.Sprintf("go %s: %v: %s", strings.Join(args, " "), werr, lastLines(stderr.String()+out, 5))
		if msgs := failMessages(out); msgs != "" {
			s.Err = msgs + " (" + s.Err + ")"
		}
	case len(s.Ratios) == 0:
		s.Err = "no ratio metrics in the output"
	}
	return s
}

// failOutput returns the plain text of a go test -json stream (lines
// that are not JSON events are kept as they are).
func failOutput(b []byte) string {
	var sb strings.Builder
	for _, line := range bytes.Split(b, []byte("\n")) {
		var ev testEvent
		if json.Unmarshal(line, &ev) != nil {
			sb.Write(line)
			sb.WriteByte('\n')
			continue
		}
		if ev.Action == "output" {
			sb.WriteString(ev.Output)
		}
	}
	return sb.String()
}

// failMessage matches the lines a failing benchmark logs
// ("    memo_test.go:31: memo loaded 2 times ...").
var failMessage = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: `)

// failMessages returns the failure messages in a test's output (what
// b.Error and b.Fatal printed, after the "--- FAIL" line naming the
// benchmark), joined with " | "; at most 5.
func failMessages(out string) string {
	var msgs []string
	fail := ""
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "--- FAIL: "); ok {
			fail, _, _ = strings.Cut(name, " ")
			continue
		}
		if failMessage.MatchString(line) && len(msgs) < 5 {
			msgs = append(msgs, fail+": "+strings.TrimSpace(line))
		}
	}
	return strings.Join(msgs, " | ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// runHerd builds cmd/herd once and runs it count times.
func (r *runner) runHerd(w workload) section {
	if r.herdBin == "" {
		dir, err := os.MkdirTemp("", "report-herd")
		if err != nil {
			return section{Err: err.Error()}
		}
		bin := filepath.Join(dir, "herd")
		r.progress(w, 0, "building cmd/herd")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/herd").CombinedOutput(); err != nil {
			return section{Err: fmt.Sprintf("go build ./cmd/herd: %v: %s", err, out)}
		}
		r.herdBin = bin
	}
	trials := 10
	if r.quick {
		trials = 3
	}
	var s section
	memo := Series{Group: "p99", Metric: "memo/gocache"}
	for i := range r.count {
		r.progress(w, i, fmt.Sprintf("herd %d procs, %d trials", w.HerdProcs, trials))
		var out, stderr bytes.Buffer
		cmd := exec.Command(r.herdBin, "-procs", strconv.Itoa(w.HerdProcs), "-trials", strconv.Itoa(trials))
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		sums, perr := ParseHerd(&out)
		if perr != nil {
			s.Err = fmt.Sprintf("herd: %v %v: %s", err, perr, lastLines(stderr.String(), 5))
			break
		}
		if err != nil {
			s.Err = fmt.Sprintf("herd exited with %v (a memo trial ran the loader more than once, or calls failed)", err)
		}
		s.Herd = append(s.Herd, sums)
		var m, g float64
		for _, x := range sums {
			switch x.Lib {
			case "memo":
				m = x.P99
			case "gocache":
				g = x.P99
			}
		}
		if m > 0 && g > 0 {
			memo.Vals = append(memo.Vals, m/g)
		}
	}
	r.progress(w, r.count, "done")
	if len(memo.Vals) > 0 {
		s.Ratios = []Series{memo}
	}
	return s
}
