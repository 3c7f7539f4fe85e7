//go:build race

package goredis_test

// raceEnabled: the race detector allocates (and sync.Pool drops items at
// random under it), so allocation counts are asserted only without it;
// scripts/test runs the allocation tests once more without -race.
const raceEnabled = true
