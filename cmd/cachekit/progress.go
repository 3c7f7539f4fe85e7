package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress returns a progress bar on stderr for max steps (-1: unknown,
// a spinner with a count). It draws only when stderr is a terminal or
// force is set, so piped output stays clean.
func (e *env) progress(force bool, max int64, desc string) *progressbar.ProgressBar {
	w := io.Writer(discard)
	if force || isTerminal(e.stderr) {
		w = e.stderr
	}
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprint(w, "\r") }),
	)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
