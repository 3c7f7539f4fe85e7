package goredis

// Slot exposes slot to the external tests.
var Slot = slot
