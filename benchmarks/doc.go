// Package benchmarks holds cachekit's cross-library comparisons. It is a
// separate module (replace github.com/cachekit/cachekit => ../) so that the
// competitors it imports never enter cachekit's own go.mod.
//
// Every comparison runs the competitor in the same run (and, where it
// reports a ratio, interleaved with ours in small blocks) because run-to-run
// noise on small shared machines easily exceeds the differences measured.
// See README.md for the commands and results; cmd/herd is the multi-process
// thundering-herd benchmark.
package benchmarks
