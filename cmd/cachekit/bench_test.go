package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validSVG parses path as XML and returns its number of rect elements.
func validSVG(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	rects, root := 0, ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not valid XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "rect" {
				rects++
			}
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", path, root)
	}
	return rects
}

func TestBenchCodecsBuiltin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svg, md, js := filepath.Join(dir, "c.svg"), filepath.Join(dir, "c.md"), filepath.Join(dir, "c.json")
	r := cli(t, "", "", "bench", "codecs", "--quick", "--time", "100ms", "--repeats", "2", "--progress",
		"--svg", svg, "--md", md, "--json", js)
	r.want(t, exitOK, "built-in Post", "Post: 20 sample(s)", "Feed: 4 sample(s)", "msgpack", "gob", "zstd", "wrote "+svg)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "recommendation for Feed: ") || !strings.Contains(last, "+") {
		t.Errorf("last line = %q, want the Feed recommendation", last)
	}
	if !strings.Contains(r.stderr, "comparing codecs") {
		t.Errorf("no progress bar on stderr with --progress:\n%s", r.stderr)
	}
	if n := validSVG(t, svg); n < 2*(9+9+3+3) {
		t.Errorf("SVG has %d rects, want bars for both reports", n)
	}
	mdText, _ := os.ReadFile(md)
	if strings.Count(string(mdText), "### ") != 2 || !strings.Contains(string(mdText), "| msgpack | s2 |") {
		t.Errorf("Markdown report:\n%s", mdText)
	}
	jsText, _ := os.ReadFile(js)
	if !strings.Contains(string(jsText), `"recommendation"`) {
		t.Errorf("JSON report:\n%s", jsText)
	}
}

func TestBenchCodecsSamples(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := filepath.Join(dir, "one.json")
	many := filepath.Join(dir, "many.ndjson")
	os.WriteFile(one, []byte(`{"id": 1, "name": "ada", "tags": ["a", "b"], "nested": {"x": [1, 2.5, null, true]}}`), 0o644)
	os.WriteFile(many, []byte("{\"id\": 2}\n\n{\"id\": 3, \"big\": 12345678901234567890}\n"), 0o644)
	r := cli(t, "", "", "bench", "codecs", "--sample", one, "--sample", many, "--time", "50ms", "--repeats", "1")
	r.want(t, exitOK, "3 JSON value(s) decoded into generic Go values", "JSON samples: 3 sample(s)",
		"recommendation for JSON samples: ")
	// gob cannot encode map[string]any without registered types: reported, not timed.
	if !strings.Contains(r.stdout, "gob") || !strings.Contains(r.stdout, "✗ cannot encode") {
		t.Errorf("gob's failure on generic values not reported:\n%s", r.stdout)
	}
}

func TestBenchCodecsBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"a": `), 0o644)
	two := filepath.Join(dir, "two.json")
	os.WriteFile(two, []byte(`{} {}`), 0o644)
	badLine := filepath.Join(dir, "x.ndjson")
	os.WriteFile(badLine, []byte("{}\n{oops\n"), 0o644)
	empty := filepath.Join(dir, "empty.ndjson")
	os.WriteFile(empty, []byte("\n\n"), 0o644)
	txt := filepath.Join(dir, "x.txt")
	os.WriteFile(txt, []byte(`{}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sample", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"--sample", bad}, "bad.json"},
		{[]string{"--sample", two}, "more than one JSON value"},
		{[]string{"--sample", badLine}, "x.ndjson:2"},
		{[]string{"--sample", empty}, "no samples"},
		{[]string{"--sample", txt}, `extension ".txt"`},
		{[]string{"--time", "-1s"}, "must not be negative"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		args := append([]string{"bench", "codecs"}, tc.args...)
		cli(t, "", "", args...).want(t, exitUsage, tc.want)
	}
}
