package goredis

// Slot exposes slot to the external tests.
var Slot = slot

// SetWalkLimit makes b's pattern walks scan at most n masters at once
// (n = 1: one after the other, in address order).
func SetWalkLimit(b *Backend, n int) { b.walkLimit = n }
