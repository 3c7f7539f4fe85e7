package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testdata/l1.json is captured from
// go test -run '^$' -bench '^BenchmarkL1HitInterleaved$' -benchtime 2000x -count 2 -json .
// Its second repeat of each sub-benchmark has its result line split over
// two output events, as go test -json writes it.
func TestParseTestJSON(t *testing.T) {
	f, err := os.Open("testdata/l1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls := 0
	res, err := ParseTestJSON(f, func(Result) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || calls != 4 {
		t.Fatalf("got %d results (%d callbacks), want 4: %+v", len(res), calls, res)
	}
	if res[0].Name != "L1HitInterleaved/ref=syncmap" {
		t.Errorf("name %q", res[0].Name)
	}
	if got := res[1].Metrics["memo/syncmap"]; got != 0.5721 {
		t.Errorf("split line: memo/syncmap = %v, want 0.5721", got)
	}
	if got := res[3].Metrics["gocache-ns/call"]; got != 28906 {
		t.Errorf("gocache-ns/call = %v, want 28906", got)
	}
	s := RatioSeries(res)
	if len(s) != 2 || s[0].Group != "ref=syncmap" || s[0].Metric != "memo/syncmap" || s[1].Metric != "memo/gocache" {
		t.Fatalf("ratio series %+v", s)
	}
	if s[0].Min() != 0.5721 || s[0].Max() != 3.019 || s[0].Median() != (0.5721+3.019)/2 {
		t.Errorf("stats of %v: %v %v %v", s[0].Vals, s[0].Min(), s[0].Max(), s[0].Median())
	}
	abs := AbsSeries(res)
	if len(abs) != 4 {
		t.Errorf("abs series %+v, want memo and ref ns/call for each ref", abs)
	}
}

func TestParseTestJSONBad(t *testing.T) {
	if _, err := ParseTestJSON(strings.NewReader(`{"Action":"output","Output":"x"}{`), nil); err == nil {
		t.Error("truncated JSON: no error")
	}
}

func TestParseBenchLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"BenchmarkX-2 \t 100\t 5 ns/op\t 1.5 a/b", true},
		{"BenchmarkX/sub=1 100 5 ns/op", true},
		{"BenchmarkX-2 \t", false},
		{"BenchmarkX-2 abc 5 ns/op", false},
		{"BenchmarkX-2 100 five ns/op", false},
		{"ok  \tgithub.com/x\t1.2s", false},
		{"PASS", false},
	} {
		if _, ok := ParseBenchLine(tc.line); ok != tc.ok {
			t.Errorf("ParseBenchLine(%q) ok = %v, want %v", tc.line, ok, tc.ok)
		}
	}
	r, _ := ParseBenchLine("BenchmarkInProcessRatio-16 20 1 ns/op 2.5 cachekit/souin-rps 900 cachekit-req/s")
	if r.Name != "InProcessRatio" || r.Metrics["cachekit/souin-rps"] != 2.5 {
		t.Errorf("%+v", r)
	}
}

func TestIsRatio(t *testing.T) {
	for u, want := range map[string]bool{
		"memo/syncmap": true, "cachekit/souin-rps": true, "deletepattern/parallel": true, "encode-env/bare": true,
		"ns/op": false, "B/op": false, "allocs/op": false, "memo-ns/call": false, "cachekit-req/s": false, "MB/s": false, "req/s": false,
	} {
		if IsRatio(u) != want {
			t.Errorf("IsRatio(%q) = %v", u, !want)
		}
	}
}

func TestParseHerd(t *testing.T) {
	f, err := os.Open("testdata/herd.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseHerd(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 {
		t.Fatalf("%+v", s)
	}
	m, g := s[0], s[1]
	if m.Lib != "memo" || m.Trials != 2 || m.MinLoads != 1 || m.MaxLoads != 1 || m.P50 != 54.5 || m.P99 != 61.0 || m.Max != 63.0 || m.Errors != 0 {
		t.Errorf("memo %+v", m)
	}
	if g.Lib != "gocache" || g.MinLoads != 3 || g.MaxLoads != 4 || g.P99 != 53.1 {
		t.Errorf("gocache %+v", g)
	}
	if _, err := ParseHerd(strings.NewReader("herd: nothing\n")); err == nil {
		t.Error("no summary: no error")
	}
}

func TestChartSVG(t *testing.T) {
	svg := ChartSVG("L1 <hit>", []Series{
		{Group: "ref=syncmap", Metric: "memo/syncmap", Vals: []float64{1.2, 1.5, 1.1}},
		{Group: "ref=gocache", Metric: "memo/gocache", Vals: []float64{0.02, 0.03}},
	})
	if !strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg"`) || !strings.HasSuffix(svg, "</svg>\n") {
		t.Fatalf("not an SVG document:\n%s", svg)
	}
	for _, want := range []string{"L1 &lt;hit&gt;", "1.20", "0.025", "log scale", "1.0 = reference"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Errorf("chart has NaN/Inf:\n%s", svg)
	}
}

func TestMarkdownLoadWarning(t *testing.T) {
	m := &machine{NumCPU: 2, LoadStart: "27.9 24.7 24.8", LoadEnd: "1.0 1.0 1.0"}
	md := Markdown(m, []section{{W: workloads[0], Ratios: []Series{{Group: "ref=syncmap", Metric: "memo/syncmap", Vals: []float64{1, 2, 3}}}}}, "go run", true, 3, 0)
	for _, want := range []string{"this machine was loaded", "| L1 hit (in-process tier) | ref=syncmap `memo/syncmap` | 2.00 | 1.00–3.00 | 3 |", "## Not measured yet", "sturdyc on the Redis tier"} {
		if !strings.Contains(md, want) {
			t.Errorf("RESULTS.md lacks %q", want)
		}
	}
	herd := section{W: workloadByID(t, "herd4"), Herd: [][]HerdSummary{
		{{Lib: "memo", MinLoads: 1, MaxLoads: 1}, {Lib: "gocache", MinLoads: 3, MaxLoads: 4}},
		{{Lib: "memo", MinLoads: 1, MaxLoads: 1}, {Lib: "gocache", MinLoads: 4, MaxLoads: 4}},
	}}
	md = Markdown(m, []section{herd}, "go run", true, 2, 0)
	for _, want := range []string{"loader calls/trial, memo (not a ratio; memo's target is 1) | 1 | 1–1 | 2 |", "loader calls/trial, gocache (not a ratio; memo's target is 1) | 4 | 3–4 | 2 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, md)
		}
	}
	m.LoadStart = "0.5 0.5 0.5"
	if strings.Contains(Markdown(m, nil, "go run", true, 3, 0), "was loaded") {
		t.Error("load warning on a quiet machine")
	}
}

func workloadByID(t *testing.T, id string) workload {
	t.Helper()
	for _, w := range workloads {
		if w.ID == id {
			return w
		}
	}
	t.Fatalf("no workload %q", id)
	return workload{}
}

// testdata/zipf.json is captured from
// go test -run '^$' -bench '^BenchmarkZipfInterleaved$' -benchtime 20x -count 2 -json .
// (its ristretto line is split over two output events).
func TestHitRatios(t *testing.T) {
	f, err := os.Open("testdata/zipf.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ParseTestJSON(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("got %d results, want 6: %+v", len(res), res)
	}
	ratios := RatioSeries(res)
	if len(ratios) != 3 || ratios[0].Metric != "memo/otter" || ratios[1].Metric != "memo/ristretto" || ratios[2].Metric != "memo/sturdyc" {
		t.Fatalf("ratio series %+v: a hit ratio must not be charted as a ratio to a reference", ratios)
	}
	hits := hitRatios(AbsSeries(res))
	if len(hits) != 6 {
		t.Fatalf("hit-ratio series %+v, want memo and the reference for each of 3 references", hits)
	}
	var otter Series
	for _, h := range hits {
		if h.Group == "ref=otter" && h.Metric == "otter-hit-ratio" {
			otter = h
		}
	}
	if len(otter.Vals) != 2 || otter.Min() != 0.8148 || otter.Max() != 0.8158 {
		t.Fatalf("otter hit ratio %+v", otter)
	}
	m := &machine{NumCPU: 2, LoadStart: "1 1 1", LoadEnd: "1 1 1"}
	md := Markdown(m, []section{{W: workloadByID(t, "zipf"), Ratios: ratios, Abs: AbsSeries(res)}}, "go run", true, 2, 0)
	for _, want := range []string{
		"| Zipf read/write mix (hit ratio) | ref=otter `memo/otter` | 16.57 | 15.81–17.34 | 2 |",
		"| Zipf read/write mix (hit ratio) | ref=otter `otter-hit-ratio` (share of reads served from cache, not a ratio to a reference; higher is better) | 0.815 | 0.815–0.816 | 2 |",
		"| ref=sturdyc | sturdyc-hit-ratio |",
		"| ref=otter | memo-ns/call | 70326 | 8200–132453 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, md)
		}
	}
}

// TestWorkloadsExist keeps the workload table in step with the benchmark
// files: every -bench pattern names a Benchmark function of its package.
func TestWorkloadsExist(t *testing.T) {
	re := regexp.MustCompile(`^\^(Benchmark\w+)\$$`)
	ids := map[string]bool{}
	for _, w := range workloads {
		if ids[w.ID] {
			t.Errorf("workload id %q twice", w.ID)
		}
		ids[w.ID] = true
		if w.HerdProcs > 0 {
			continue
		}
		m := re.FindStringSubmatch(w.Bench)
		if m == nil {
			t.Errorf("%s: -bench %q is not ^BenchmarkName$", w.ID, w.Bench)
			continue
		}
		// The report runs from the benchmarks module; this test runs in cmd/report.
		dir := filepath.Join("..", "..", w.Dir, w.Pkg)
		files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("%s: no test files in %s (%v)", w.ID, dir, err)
			continue
		}
		found := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "func "+m[1]+"(b *testing.B)") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no func %s in %s", w.ID, m[1], dir)
		}
	}
}

func TestFailMessages(t *testing.T) {
	stream := `{"Action":"output","Output":"BenchmarkRedisHitInterleaved/ref=raw-2 \t 500\t 1 ns/op\t 1.2 memo/raw\n"}
{"Action":"output","Output":"--- FAIL: BenchmarkRedisHitInterleaved/ref=gocache\n"}
{"Action":"output","Output":"    memo_test.go:31: memo loaded 2 times: the benchmark measured misses\n"}
{"Action":"output","Output":"--- FAIL: BenchmarkRedisHitInterleaved\n"}
{"Action":"output","Output":"FAIL\n"}
not json
`
	out := failOutput([]byte(stream))
	if !strings.Contains(out, "--- FAIL: BenchmarkRedisHitInterleaved/ref=gocache\n    memo_test.go:31: memo loaded") || !strings.Contains(out, "not json") {
		t.Errorf("failOutput:\n%s", out)
	}
	want := "BenchmarkRedisHitInterleaved/ref=gocache: memo_test.go:31: memo loaded 2 times: the benchmark measured misses"
	if got := failMessages(out); got != want {
		t.Errorf("failMessages = %q, want %q", got, want)
	}
	if got := failMessages("ok\nPASS\n"); got != "" {
		t.Errorf("failMessages of a pass = %q", got)
	}
}
