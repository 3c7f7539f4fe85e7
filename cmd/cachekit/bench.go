package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/cachekit/cachekit/codec/codecbench"
)

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func benchCodecs(e *env, args []string) error {
	fs := newFlags(e, "bench codecs", "bench codecs [--sample f.json|f.ndjson ...] [--svg out.svg] [--md out.md] [--json out.json] [--quick] [--time d]")
	var samples multiFlag
	fs.Var(&samples, "sample", "JSON sample `file`: .json is one sample, .ndjson/.jsonl one per line; repeatable (default: built-in Post and Feed)")
	svg := fs.String("svg", "", "write the charts to this SVG `file`")
	md := fs.String("md", "", "write the report to this Markdown `file`")
	js := fs.String("json", "", "write the report to this JSON `file`")
	quick := fs.Bool("quick", false, "a fast, rougher run: --time 1s --repeats 3")
	budget := fs.Duration("time", 0, "time budget of the timed runs per data type (default 3s, 1s with --quick)")
	repeats := fs.Int("repeats", 0, "timed runs per figure (default 5, 3 with --quick)")
	progress := fs.Bool("progress", false, "show the progress bar even when stderr is not a terminal")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("unexpected argument %q (samples go in --sample)", pos[0])
	}
	if *budget < 0 || *repeats < 0 {
		return usageErrorf("--time and --repeats must not be negative")
	}
	o := codecbench.Options{Time: *budget, Repeats: *repeats}
	if *quick {
		if o.Time == 0 {
			o.Time = time.Second
		}
		if o.Repeats == 0 {
			o.Repeats = 3
		}
	}

	var reports []*codecbench.Report
	if len(samples) == 0 {
		fmt.Fprintln(e.stdout, "samples: built-in Post (~700 B, 20 values) and Feed (20 posts, 4 values); pass --sample for your own data")
		rp, err := compare(e, builtinPosts(), o, "Post", *progress)
		if err != nil {
			return err
		}
		rf, err := compare(e, builtinFeeds(), o, "Feed", *progress)
		if err != nil {
			return err
		}
		reports = append(reports, rp, rf)
	} else {
		values, err := loadSamples(samples)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "samples: %d JSON value(s) decoded into generic Go values (map[string]any, []any, float64, string, bool):\n"+
			"  your own Go types encode differently (struct field names, integer widths, times); call codecbench.Compare from Go for exact figures\n", len(values))
		r, err := compare(e, values, o, "JSON samples", *progress)
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}

	for _, r := range reports {
		fmt.Fprintln(e.stdout)
		if err := r.WriteTable(e.stdout); err != nil {
			return err
		}
	}
	if err := writeFiles(e, reports, *svg, *md, *js); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	for _, r := range reports {
		fmt.Fprintf(e.stdout, "recommendation for %s: %s\n", r.Label, orNone(r.Recommendation))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none (no codec round-tripped this data)"
	}
	return s
}

func compare[T any](e *env, samples []T, o codecbench.Options, label string, force bool) (*codecbench.Report, error) {
	bar := e.progress(force, -1, "comparing codecs on "+label)
	o.Label = label
	o.Progress = func(done, total int) {
		bar.ChangeMax(total)
		_ = bar.Set(done)
	}
	r, err := codecbench.Compare(samples, &o)
	_ = bar.Finish()
	return r, err
}

// writeFiles writes the requested renderings of the reports.
func writeFiles(e *env, reports []*codecbench.Report, svg, md, js string) error {
	if svg != "" {
		var b bytes.Buffer
		if err := codecbench.WriteSVG(&b, reports...); err != nil {
			return err
		}
		if err := writeFile(e, svg, b.Bytes()); err != nil {
			return err
		}
	}
	if md != "" {
		var b bytes.Buffer
		for i, r := range reports {
			if i > 0 {
				b.WriteString("\n")
			}
			if err := r.WriteMarkdown(&b); err != nil {
				return err
			}
		}
		if err := writeFile(e, md, b.Bytes()); err != nil {
			return err
		}
	}
	if js != "" {
		var b bytes.Buffer
		b.WriteString("[\n")
		for i, r := range reports {
			if i > 0 {
				b.WriteString(",\n")
			}
			if err := r.WriteJSON(&b); err != nil {
				return err
			}
		}
		b.WriteString("]\n")
		if err := writeFile(e, js, b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(e *env, path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", path)
	return nil
}
