package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"}

// ChartSVG draws series as horizontal bars grouped by Group: each bar is
// a median ratio, its whisker the min–max of the repeats, and a dashed
// line marks 1.0 (the reference). The scale is logarithmic when the
// values span more than a factor of 20.
func ChartSVG(title string, series []Series) string {
	const (
		width, left, right, top, barH, gap = 760, 250, 40, 40, 18, 10
	)
	lo, hi := 1.0, 1.0
	for _, s := range series {
		lo = math.Min(lo, s.Min())
		hi = math.Max(hi, s.Max())
	}
	logScale := hi/lo > 20
	plotW := float64(width - left - right)
	var x func(v float64) float64
	if logScale {
		l0, l1 := math.Log10(lo)-0.1, math.Log10(hi)+0.1
		x = func(v float64) float64 { return left + (math.Log10(v)-l0)/(l1-l0)*plotW }
	} else {
		h := hi * 1.1
		x = func(v float64) float64 { return left + v/h*plotW }
	}
	var b strings.Builder
	y := top
	prev := ""
	colors := map[string]string{}
	for _, s := range series {
		if s.Group != prev {
			if prev != "" {
				y += gap
			}
			prev = s.Group
		}
		if _, ok := colors[s.Metric]; !ok {
			colors[s.Metric] = palette[len(colors)%len(palette)]
		}
		c := colors[s.Metric]
		x0, xm := x(math.Min(1, lo)), x(s.Median())
		if logScale {
			x0 = float64(left)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12">%s  %s</text>`+"\n", left-6, y+13, html.EscapeString(s.Group), html.EscapeString(s.Metric))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x0, y, math.Max(xm-x0, 1), barH, c)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#222" stroke-width="1.5"/>`+"\n", x(s.Min()), x(s.Max()), y+barH/2, y+barH/2)
		for _, v := range []float64{s.Min(), s.Max()} {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#222" stroke-width="1.5"/>`+"\n", x(v), x(v), y+3, y+barH-3)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11">%s</text>`+"\n", math.Max(xm, x(s.Max()))+4, y+13, fmtRatio(s.Median()))
		y += barH + 4
	}
	height := y + 30
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#888" stroke-dasharray="4 3"/>`+"\n", x(1), x(1), top-6, y)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#555">1.0 = reference</text>`+"\n", x(1), y+16)
	scale := "linear"
	if logScale {
		scale = "log"
	}
	head := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n"+
		`<rect width="100%%" height="100%%" fill="white"/>`+"\n"+
		`<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n"+
		`<text x="%d" y="22" font-size="11" text-anchor="end" fill="#555">median ratio, whiskers min–max, %s scale</text>`+"\n",
		width, height, width, height, html.EscapeString(title), width-10, scale)
	return head + b.String() + "</svg>\n"
}

func fmtRatio(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
