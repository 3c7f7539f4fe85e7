//go:build race

package memo_test

// raceEnabled: the race detector multiplies the CPU cost of every
// goroutine; tests that measure a budget with many goroutines at once use
// fewer of them then.
const raceEnabled = true
