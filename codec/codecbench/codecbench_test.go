package codecbench

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachekit/cachekit/codec"
)

type post struct {
	ID      int64
	Title   string
	Body    string
	Tags    []string
	Created time.Time
	Meta    map[string]string
}

func posts(n int) []post {
	var out []post
	for i := range n {
		out = append(out, post{
			ID: int64(i), Title: "title", Body: strings.Repeat("the engine weaves patterns ", 40),
			Tags: []string{"a", "b"}, Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
			Meta: map[string]string{"lang": "en"},
		})
	}
	return out
}

var quick = &Options{Time: 50 * time.Millisecond, Repeats: 2}

func TestCompareTimesEveryCombination(t *testing.T) {
	t.Parallel()
	rep, err := Compare(posts(5), quick)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rep.Results), 9; got != want {
		t.Fatalf("len(Results) = %d, want %d (3 codecs × 3 compressions; no raw for a struct)", got, want)
	}
	for _, r := range rep.Results {
		if !r.OK() {
			t.Errorf("%s: %s", r.Name(), r.Err)
			continue
		}
		if r.Size <= 0 || r.Encode.NsPerOp.Median <= 0 || r.Decode.NsPerOp.Median <= 0 {
			t.Errorf("%s: size %v, encode %v, decode %v; want all > 0", r.Name(), r.Size, r.Encode, r.Decode)
		}
		if s := r.Decode.NsPerOp; s.Min > s.Median || s.Median > s.Max {
			t.Errorf("%s: decode span %+v not ordered", r.Name(), s)
		}
		if r.Decode.AllocsPerOp < 1 {
			t.Errorf("%s: decode allocs/op = %v, want ≥ 1 (it allocates the value)", r.Name(), r.Decode.AllocsPerOp)
		}
		switch r.Compression {
		case "none":
			if r.Ratio != 1 {
				t.Errorf("%s: ratio %v, want 1", r.Name(), r.Ratio)
			}
		default: // the repetitive body compresses well
			if r.Ratio < 2 {
				t.Errorf("%s: ratio %v, want ≥ 2", r.Name(), r.Ratio)
			}
		}
	}
	if rep.Recommendation == "" || !strings.Contains(rep.Recommendation, "+") {
		t.Errorf("Recommendation = %q, want codec+compression: reason", rep.Recommendation)
	}
	if rep.Label != "codecbench.post" || rep.Samples != 5 || rep.Repeats != 2 {
		t.Errorf("report header = %q %d %d", rep.Label, rep.Samples, rep.Repeats)
	}
}

type lossy struct {
	N     int
	Attrs map[string]any
}

func TestCompareReportsDataLossUntimed(t *testing.T) {
	t.Parallel()
	samples := []lossy{{N: 1, Attrs: map[string]any{"big": uint64(1<<60 + 1)}}}
	rep, err := Compare(samples, quick)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Codec == "json" {
			if !strings.Contains(r.Err, "loses data") || !strings.Contains(r.Err, ".Attrs[big]") {
				t.Errorf("%s: Err = %q, want a data loss at .Attrs[big]", r.Name(), r.Err)
			}
			if r.Decode.NsPerOp.Median != 0 || r.Size != 0 {
				t.Errorf("%s was timed after losing data: %+v", r.Name(), r)
			}
			continue
		}
		if !r.OK() {
			t.Errorf("%s: %s", r.Name(), r.Err)
		}
	}
	if strings.HasPrefix(rep.Recommendation, "json") {
		t.Errorf("Recommendation = %q recommends a lossy codec", rep.Recommendation)
	}
}

func TestCompareReportsUnsupportedType(t *testing.T) {
	t.Parallel()
	type withChan struct{ C chan int }
	rep, err := Compare([]withChan{{C: make(chan int)}}, quick)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !strings.HasPrefix(r.Err, "cannot encode") && !strings.HasPrefix(r.Err, "loses data") {
			t.Errorf("%s: Err = %q, want cannot encode or loses data", r.Name(), r.Err)
		}
	}
	if rep.Recommendation != "" {
		t.Errorf("Recommendation = %q, want none", rep.Recommendation)
	}
	var tbl bytes.Buffer
	if err := rep.WriteTable(&tbl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tbl.String(), "recommendation: none") {
		t.Errorf("table without a recommendation:\n%s", tbl.String())
	}
}

func TestCompareRawOnlyForBytesAndStrings(t *testing.T) {
	t.Parallel()
	rep, err := Compare([]string{strings.Repeat("abc", 500)}, quick)
	if err != nil {
		t.Fatal(err)
	}
	var raw int
	for _, r := range rep.Results {
		if r.Codec == "raw" {
			raw++
			if !r.OK() {
				t.Errorf("%s: %s", r.Name(), r.Err)
			}
		}
	}
	if raw != 3 {
		t.Errorf("raw results = %d, want 3", raw)
	}
}

func TestCompareEqualOption(t *testing.T) {
	t.Parallel()
	calls := 0
	o := *quick
	o.Codecs = []codec.Codec{codec.MsgPack}
	o.Compressions = []codec.Compression{codec.NoCompression}
	o.Equal = func(got, want any) bool {
		calls++
		g, w := got.(*post), want.(*post)
		return g.ID == w.ID && false // never equal
	}
	rep, err := Compare(posts(2), &o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || !strings.Contains(rep.Results[0].Err, "Options.Equal") {
		t.Fatalf("Results = %+v, want one lossy result", rep.Results)
	}
	if calls != 1 {
		t.Errorf("Equal called %d times, want 1 (it stops at the first loss)", calls)
	}
}

func TestCompareProgress(t *testing.T) {
	t.Parallel()
	o := Options{Time: 20 * time.Millisecond, Repeats: 3}
	var last, total int
	o.Progress = func(done, tot int) {
		if done < last || done > tot {
			t.Errorf("Progress(%d, %d) after %d", done, tot, last)
		}
		last, total = done, tot
	}
	if _, err := Compare(posts(3), &o); err != nil {
		t.Fatal(err)
	}
	if last != total || total != 9*(1+2*3) {
		t.Errorf("progress ended at %d/%d, want %d/%d", last, total, 9*7, 9*7)
	}
}

// TestTimedRunStopsAtBudget: a run whose calibration asks for far too many
// operations still stops once its budget has passed (within one batch),
// instead of running them all (which would take tens of seconds here).
func TestTimedRunStopsAtBudget(t *testing.T) {
	t.Parallel()
	o, err := withDefaults[post](nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner[post]{o: o, samples: posts(2)}
	r.boxed = []any{r.samples[0], r.samples[1]}
	c := &cell{env: &codec.Envelope{Codec: codec.MsgPack}}
	r.verify(c)
	if !c.res.OK() {
		t.Fatal(c.res.Err)
	}
	const budget = 100 * time.Millisecond
	for phase := range 2 {
		m := r.timed(c, phase, maxIterations, float64(budget))
		if m.ops >= maxIterations || m.elapsed < budget || m.elapsed > 10*budget {
			t.Errorf("phase %d: %d ops in %v with budget %v, want it stopped soon after the budget", phase, m.ops, m.elapsed, budget)
		}
		if m.mallocs == 0 {
			t.Errorf("phase %d: no allocations counted", phase)
		}
	}
}

func TestCompareRejectsBadInput(t *testing.T) {
	t.Parallel()
	if _, err := Compare([]post{}, nil); !errors.Is(err, ErrNoSamples) {
		t.Errorf("Compare(no samples) = %v, want ErrNoSamples", err)
	}
	for _, o := range []*Options{
		{Time: -1},
		{Repeats: -1},
		{Codecs: []codec.Codec{nil}},
		{Compressions: []codec.Compression{7}},
	} {
		if _, err := Compare(posts(1), o); !errors.Is(err, ErrOptions) {
			t.Errorf("Compare(%+v) = %v, want ErrOptions", o, err)
		}
	}
}

func TestRecommend(t *testing.T) {
	t.Parallel()
	res := func(c, comp string, size, dec float64) Result {
		return Result{Codec: c, Compression: comp, Size: size, Decode: Cost{NsPerOp: Span{dec, dec, dec}}}
	}
	cases := []struct {
		name    string
		results []Result
		want    string
		reason  string
	}{
		{"smallest within slack", []Result{res("a", "none", 1000, 100), res("a", "s2", 400, 108), res("a", "zstd", 300, 200)},
			"a+s2", "smallest (400 B) within 10% of the fastest decode (a+none 100 ns; this one 108 ns)"},
		{"fastest is smallest", []Result{res("a", "none", 100, 100), res("b", "none", 200, 105)},
			"a+none", "fastest decode (100 ns) and the smallest (100 B) of those within 10% of it"},
		{"failed ignored", []Result{{Codec: "x", Compression: "none", Err: "cannot encode"}, res("a", "none", 100, 100)},
			"a+none", "fastest decode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Results: tc.results}
			best, reason, ok := r.Recommend()
			if !ok || best.Name() != tc.want || !strings.HasPrefix(reason, tc.reason) {
				t.Errorf("Recommend() = %v, %q, %v; want %s, %q", best, reason, ok, tc.want, tc.reason)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	now := time.Now()
	cases := []struct {
		name      string
		got, want any
		diff      string // substring; "" = equal
	}{
		{"equal", post{ID: 1}, post{ID: 1}, ""},
		{"time by instant", now.UTC(), now, ""},
		{"nil equals empty", post{Tags: nil}, post{Tags: []string{}}, ""},
		{"int8 in any", map[string]any{"n": int8(3)}, map[string]any{"n": 3.0}, ""},
		{"field", post{ID: 1}, post{ID: 2}, ".ID: 1, want 2"},
		{"length", []int{1}, []int{1, 2}, "length 1, want 2"},
		{"missing key", map[string]int{"a": 1}, map[string]int{"b": 1}, "[b]: missing"},
		{"lost precision", map[string]any{"n": float64(1 << 60)}, map[string]any{"n": uint64(1<<60 + 1)}, "[n]"},
		{"type", map[string]any{"n": "3"}, map[string]any{"n": 3}, "(string), want 3 (int)"},
		{"nil pointer", (*int)(nil), new(int), "nil, want"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Diff(tc.got, tc.want)
			if (tc.diff == "") != (d == "") || !strings.Contains(d, tc.diff) {
				t.Errorf("Diff(%v, %v) = %q, want %q", tc.got, tc.want, d, tc.diff)
			}
		})
	}
}

func TestRenderings(t *testing.T) {
	t.Parallel()
	rep, err := Compare(posts(2), quick)
	if err != nil {
		t.Fatal(err)
	}
	rep.Results = append(rep.Results, Result{Codec: "gob", Compression: "none", Err: "cannot encode: a | b <c>"})

	var tbl bytes.Buffer
	if err := rep.WriteTable(&tbl); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tbl.String()), "\n")
	if len(lines) != 2+10+1 || !strings.HasPrefix(lines[len(lines)-1], "recommendation: ") {
		t.Errorf("table has %d lines, want title, header, 10 rows and the recommendation last:\n%s", len(lines), tbl.String())
	}

	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	var rows int
	for _, l := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(l, "|") {
			rows++
			if got := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); got != len(columns)+1 {
				t.Errorf("markdown row has %d pipes, want %d: %s", got, len(columns)+1, l)
			}
		}
	}
	if rows != 2+10 {
		t.Errorf("markdown has %d table rows, want 12", rows)
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != len(rep.Results) || back.Results[0].Decode.NsPerOp != rep.Results[0].Decode.NsPerOp ||
		back.Recommendation != rep.Recommendation {
		t.Errorf("JSON round trip = %+v, want %+v", back, rep)
	}
}
