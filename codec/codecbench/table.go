package codecbench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// columns of the table and Markdown renderings.
var columns = []string{"codec", "compression", "size", "ratio",
	"encode", "encode min–max", "enc allocs", "enc B/op",
	"decode", "decode min–max", "dec allocs", "dec B/op"}

// rows returns the table cells of every result; a result that was not
// timed has its error in the size column.
func (r *Report) rows() [][]string {
	var out [][]string
	for i := range r.Results {
		res := &r.Results[i]
		if !res.OK() {
			out = append(out, []string{res.Codec, res.Compression, "✗ " + res.Err})
			continue
		}
		out = append(out, []string{
			res.Codec, res.Compression, fmtBytes(res.Size), fmt.Sprintf("%.2f×", res.Ratio),
			fmtNs(res.Encode.NsPerOp.Median), fmtSpan(res.Encode.NsPerOp),
			fmt.Sprintf("%.0f", res.Encode.AllocsPerOp), fmtBytes(res.Encode.BytesPerOp),
			fmtNs(res.Decode.NsPerOp.Median), fmtSpan(res.Decode.NsPerOp),
			fmt.Sprintf("%.0f", res.Decode.AllocsPerOp), fmtBytes(res.Decode.BytesPerOp),
		})
	}
	return out
}

func fmtSpan(s Span) string { return fmtNs(s.Min) + " – " + fmtNs(s.Max) }

func (r *Report) title() string {
	return fmt.Sprintf("%s: %d sample(s), median of %d runs per figure, sizes and times per value",
		r.Label, r.Samples, r.Repeats)
}

// WriteTable writes the report as an aligned plain-text table for a
// terminal, followed by the recommendation.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, r.title())
	fmt.Fprintln(tw, strings.Join(columns, "\t"))
	for _, row := range r.rows() {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, r.recommendationLine())
	return err
}

func (r *Report) recommendationLine() string {
	if r.Recommendation == "" {
		return "recommendation: none (no codec round-tripped this data)"
	}
	return "recommendation: " + r.Recommendation
}

// WriteMarkdown writes the report as a Markdown section: a heading, a
// table and the recommendation.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", mdEscape(r.title()))
	b.WriteString("| " + strings.Join(columns, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(columns)) + "\n")
	for _, row := range r.rows() {
		for len(row) < len(columns) {
			row = append(row, "")
		}
		for i := range row {
			row[i] = mdEscape(row[i])
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	fmt.Fprintf(&b, "\n**%s**\n", mdEscape(r.recommendationLine()))
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a cell from breaking the table or turning into markup.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`, "<", "&lt;").Replace(s)
}
