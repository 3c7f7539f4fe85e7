package codecbench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// svgStats parses data as XML and counts its elements and titles.
func svgStats(t *testing.T, data []byte) (root xml.Name, counts map[string]int, texts []string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	counts = map[string]int{}
	depth := 0
	var inText bool
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("invalid SVG: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = tok.Name
			}
			depth++
			counts[tok.Name.Local]++
			if tok.Name.Local == "text" {
				inText = true
			}
		case xml.EndElement:
			depth--
			if tok.Name.Local == "text" {
				inText = false
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		}
	}
	if depth != 0 {
		t.Fatalf("SVG ends at depth %d", depth)
	}
	return root, counts, texts
}

func TestWriteSVGIsValid(t *testing.T) {
	t.Parallel()
	rep, err := Compare(posts(2), quick)
	if err != nil {
		t.Fatal(err)
	}
	rep.Label = `posts <&> "quoted"`
	rep.Results = append(rep.Results, Result{Codec: "odd", Compression: "none", Err: `cannot encode: <chan> & "x"`})
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	root, counts, texts := svgStats(t, b.Bytes())
	if root.Local != "svg" || root.Space != "http://www.w3.org/2000/svg" {
		t.Errorf("root = %v, want svg in the SVG namespace", root)
	}
	// background + per chart: 9 timed results (2 rects in time, 1 in size)
	// + 3 legend swatches each.
	if got, want := counts["rect"], 1+9*2+3+9+3; got != want {
		t.Errorf("%d rects, want %d", got, want)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{`posts <&> "quoted": time per value`, `posts <&> "quoted": encoded size per value`,
		"msgpack", "json", "gob", "odd", "✗", "recommended: "} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG texts lack %q", want)
		}
	}
}

func TestWriteSVGSeveralReports(t *testing.T) {
	t.Parallel()
	a, err := Compare(posts(1), quick)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compare([]string{"x"}, quick)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteSVG(&out, a, b); err != nil {
		t.Fatal(err)
	}
	_, _, texts := svgStats(t, out.Bytes())
	var titles int
	for _, s := range texts {
		if strings.Contains(s, "per value (") {
			titles++
		}
	}
	if titles != 4 {
		t.Errorf("%d chart titles, want 4 (time and size for each report)", titles)
	}
}

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want float64 }{{0, 1}, {0.3, 0.5}, {1, 1}, {1.2, 2}, {2.2, 2.5}, {7, 10}, {130, 200}} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
