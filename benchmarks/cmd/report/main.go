// Command report runs cachekit's cross-library comparisons (the
// interleaved benchmarks of this module and of codec/, and cmd/herd),
// repeats them, and writes RESULTS.md plus one SVG chart per workload
// under results/: median ratios against the reference measured in the
// same run, with their min–max range, and the machine they ran on.
//
//	go -C benchmarks run ./cmd/report                  # full: -count 10, -benchtime 1s
//	go -C benchmarks run ./cmd/report -quick -count 3  # minutes, rough
//	go -C benchmarks run ./cmd/report -quick -count 1 -only l1 -out /tmp/r
//
// It must be run from the benchmarks module's directory (go -C benchmarks).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		quick = flag.Bool("quick", false, "short benchtimes and few herd trials (minutes; rough numbers)")
		count = flag.Int("count", 0, "repeats of every benchmark (default 3 with -quick, 10 otherwise)")
		out   = flag.String("out", ".", "directory for RESULTS.md; charts go to DIR/results")
		only  = flag.String("only", "", "comma-separated workload ids to run (default all): "+ids())
	)
	flag.Parse()
	if *count <= 0 {
		*count = 10
		if *quick {
			*count = 3
		}
	}
	if _, err := os.Stat("cmd/herd"); err != nil {
		fmt.Fprintln(os.Stderr, "report: run from the benchmarks module: go -C benchmarks run ./cmd/report")
		return 2
	}
	var todo []workload
	for _, w := range workloads {
		if *only == "" || slices.Contains(strings.Split(*only, ","), w.ID) {
			todo = append(todo, w)
		}
	}
	if len(todo) == 0 {
		fmt.Fprintf(os.Stderr, "report: -only %q matches no workload (%s)\n", *only, ids())
		return 2
	}
	start := time.Now()
	m := startMachine()
	r := &runner{quick: *quick, count: *count, total: len(todo), start: start}
	var sections []section
	for i, w := range todo {
		r.index = i + 1
		sections = append(sections, r.runWorkload(w))
	}
	fmt.Fprintln(os.Stderr)
	m.finish()
	elapsed := time.Since(start)
	if err := os.MkdirAll(filepath.Join(*out, "results"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		return 1
	}
	for _, s := range sections {
		if len(s.Ratios) == 0 {
			continue
		}
		p := filepath.Join(*out, "results", s.W.ID+".svg")
		if err := os.WriteFile(p, []byte(ChartSVG(s.W.Title, s.Ratios)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			return 1
		}
	}
	cmdline := "go -C benchmarks run ./cmd/report " + strings.Join(os.Args[1:], " ")
	md := Markdown(m, sections, cmdline, *quick, *count, elapsed)
	p := filepath.Join(*out, "RESULTS.md")
	if err := os.WriteFile(p, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "report: wrote %s and %d charts in %s\n", p, len(sections), elapsed.Round(time.Second))
	failed := 0
	for _, s := range sections {
		if s.Err != "" {
			failed++
		}
	}
	if failed == len(sections) {
		return 1
	}
	return 0
}

func ids() string {
	var s []string
	for _, w := range workloads {
		s = append(s, w.ID)
	}
	return strings.Join(s, ",")
}
