package codecbench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartW     = 760
	chartH     = 280
	plotLeft   = 70
	plotRight  = 20
	plotTop    = 40
	plotBottom = 50
	legendW    = 230
)

// compressionColors colour the bars of each compression.
var compressionColors = map[string]string{"none": "#4e79a7", "s2": "#f28e2b", "zstd": "#59a14f"}

const otherColor = "#9c755f"

// WriteSVG writes the report as an SVG image: a chart of encode and
// decode time and a chart of encoded size, each with one group of bars
// per codec and one bar per compression.
func (r *Report) WriteSVG(w io.Writer) error { return WriteSVG(w, r) }

// WriteSVG writes the charts of several reports (such as one per data
// type) stacked in one SVG image. Combinations that were not timed show
// a ✗ with their error as a tooltip.
func WriteSVG(w io.Writer, reports ...*Report) error {
	var b bytes.Buffer
	height := len(reports) * 2 * chartH
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, height, chartW, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, height)
	for i, r := range reports {
		y := i * 2 * chartH
		timeChart(&b, r, y)
		sizeChart(&b, r, y+chartH)
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// groups returns the codec names in order and, per codec, its results.
func (r *Report) groups() ([]string, map[string][]*Result) {
	var names []string
	by := map[string][]*Result{}
	for i := range r.Results {
		res := &r.Results[i]
		if _, ok := by[res.Codec]; !ok {
			names = append(names, res.Codec)
		}
		by[res.Codec] = append(by[res.Codec], res)
	}
	return names, by
}

// frame draws the title, axis and grid of a chart at y and returns the
// function mapping a value to a y coordinate.
func frame(b *bytes.Buffer, y int, title, unit string, top float64) func(float64) float64 {
	plotH := float64(chartH - plotTop - plotBottom)
	base := float64(y + chartH - plotBottom)
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", plotLeft, y+22, esc(title))
	step := top / 4
	for i := 0; i <= 4; i++ {
		v := step * float64(i)
		gy := base - plotH*v/top
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>`+"\n", plotLeft, gy, chartW-plotRight-legendW, gy)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555555">%s</text>`+"\n", plotLeft-6, gy+4, esc(tick(v)))
	}
	fmt.Fprintf(b, `<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle" fill="#555555">%s</text>`+"\n",
		base-plotH/2, base-plotH/2, esc(unit))
	return func(v float64) float64 { return base - plotH*min(v, top)/top }
}

// layout places group g, bar k of n bars: its x and width.
func layout(groups, g, n, k int) (x, width float64) {
	plotW := float64(chartW - plotLeft - plotRight - legendW)
	gw := plotW / float64(groups)
	width = min(gw*0.8/float64(max(n, 1)), 40)
	start := float64(plotLeft) + gw*float64(g) + (gw-width*float64(n))/2
	return start + width*float64(k), width
}

func groupLabel(b *bytes.Buffer, y, groups, g int, name string) {
	plotW := float64(chartW - plotLeft - plotRight - legendW)
	gw := plotW / float64(groups)
	cx := float64(plotLeft) + gw*(float64(g)+0.5)
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", cx, y+chartH-plotBottom+18, esc(name))
}

func failed(b *bytes.Buffer, x, w float64, base float64, res *Result) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#c0392b"><title>%s</title>✗</text>`+"\n",
		x+w/2, base-4, esc(res.Name()+": "+res.Err))
}

func timeChart(b *bytes.Buffer, r *Report, y int) {
	names, by := r.groups()
	top := 0.0
	for _, res := range r.Results {
		if res.OK() {
			// Medians set the scale: one slow outlier run would flatten
			// every bar. Whiskers beyond the top are clipped.
			top = max(top, res.Decode.NsPerOp.Median+res.Encode.NsPerOp.Median)
		}
	}
	top, scale, unit := niceTime(top)
	yOf := frame(b, y, r.Label+": time per value (decode solid, encode light; whisker: decode min–max)", unit, top)
	base := yOf(0)
	for g, name := range names {
		for k, res := range by[name] {
			x, w := layout(len(names), g, len(by[name]), k)
			if !res.OK() {
				failed(b, x, w, base, res)
				continue
			}
			color := colorOf(res.Compression)
			dec, enc := res.Decode.NsPerOp.Median/scale, res.Encode.NsPerOp.Median/scale
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s decode %s</title></rect>`+"\n",
				x, yOf(dec), w-2, base-yOf(dec), color, esc(res.Name()), esc(fmtNs(res.Decode.NsPerOp.Median)))
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.4"><title>%s encode %s</title></rect>`+"\n",
				x, yOf(dec+enc), w-2, yOf(dec)-yOf(dec+enc), color, esc(res.Name()), esc(fmtNs(res.Encode.NsPerOp.Median)))
			cx := x + (w-2)/2
			lo, hi := yOf(res.Decode.NsPerOp.Min/scale), yOf(res.Decode.NsPerOp.Max/scale)
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222222"/>`+"\n", cx, lo, cx, hi)
		}
		groupLabel(b, y, len(names), g, name)
	}
	legend(b, r, y)
}

func sizeChart(b *bytes.Buffer, r *Report, y int) {
	names, by := r.groups()
	top := 0.0
	for _, res := range r.Results {
		if res.OK() {
			top = max(top, res.Size)
		}
	}
	top, scale, unit := niceBytes(top)
	yOf := frame(b, y, r.Label+": encoded size per value (label: ratio to uncompressed)", unit, top)
	base := yOf(0)
	for g, name := range names {
		for k, res := range by[name] {
			x, w := layout(len(names), g, len(by[name]), k)
			if !res.OK() {
				failed(b, x, w, base, res)
				continue
			}
			v := res.Size / scale
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s</title></rect>`+"\n",
				x, yOf(v), w-2, base-yOf(v), colorOf(res.Compression), esc(res.Name()), esc(fmtBytes(res.Size)))
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#333333">%.1f×</text>`+"\n",
				x+(w-2)/2, yOf(v)-3, res.Ratio)
		}
		groupLabel(b, y, len(names), g, name)
	}
	legend(b, r, y)
}

func legend(b *bytes.Buffer, r *Report, y int) {
	var seen []string
	for _, res := range r.Results {
		if !contains(seen, res.Compression) {
			seen = append(seen, res.Compression)
		}
	}
	x := chartW - plotRight - legendW + 20
	for i, c := range seen {
		ly := y + plotTop + 10 + i*20
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", x, ly, colorOf(c))
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x+18, ly+10, esc(c))
	}
	if r.Recommendation != "" {
		best, _, _ := r.Recommend()
		ly := y + plotTop + 10 + len(seen)*20 + 10
		fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">recommended: %s</text>`+"\n", x, ly, esc(best.Name()))
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func colorOf(compression string) string {
	if c, ok := compressionColors[compression]; ok {
		return c
	}
	return otherColor
}

// niceTime picks the axis top for a time in ns, the unit's size in ns and
// the unit's label.
func niceTime(ns float64) (top, scale float64, unit string) {
	switch {
	case ns >= 1e6:
		return niceCeil(ns / 1e6), 1e6, "ms per value"
	case ns >= 1e3:
		return niceCeil(ns / 1e3), 1e3, "µs per value"
	}
	return niceCeil(ns), 1, "ns per value"
}

func niceBytes(n float64) (top, scale float64, unit string) {
	switch {
	case n >= 1<<20:
		return niceCeil(n / (1 << 20)), 1 << 20, "MiB per value"
	case n >= 1<<10:
		return niceCeil(n / (1 << 10)), 1 << 10, "KiB per value"
	}
	return niceCeil(n), 1, "bytes per value"
}

// niceCeil rounds v up to 1, 2, 2.5, 5 or 10 times a power of ten (at
// least 1), so that quarter ticks are round numbers.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func tick(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
