package backend

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// MaxFingerprintTail bounds [Fingerprint.Tail]: a fingerprint is meant to
// be short, so that a compare-and-swap costs the new value on the wire and
// not the old one too.
const MaxFingerprintTail = 64

// Fingerprint stands for a stored value in [FingerprintSwapper]: its
// length and its last bytes. It identifies a value only as well as its
// tail does, so callers use it on values that end with a checksum of every
// byte before it (the codec envelope ends with a CRC-32C of its header and
// payload; with a header that differs for every write, two different
// envelopes share a fingerprint with probability about 2^-32).
type Fingerprint struct {
	Len  int    // the length of the value
	Tail []byte // its last len(Tail) bytes (at most MaxFingerprintTail)
}

// FingerprintOf returns the fingerprint of v made of its length and its
// last n bytes (all of v if shorter; n is capped at MaxFingerprintTail).
// Tail aliases v.
func FingerprintOf(v []byte, n int) Fingerprint {
	n = min(n, len(v), MaxFingerprintTail)
	return Fingerprint{Len: len(v), Tail: v[len(v)-max(n, 0):]}
}

// Matches reports whether v has the fingerprint f.
func (f Fingerprint) Matches(v []byte) bool {
	return len(v) == f.Len && len(f.Tail) <= len(v) && bytes.Equal(v[len(v)-len(f.Tail):], f.Tail)
}

// Notice is a message to publish in the same step as a store (see
// [FingerprintSwapper]).
type Notice struct {
	Channel string
	Payload []byte
}

// FingerprintSwapper is implemented by backends with a compare-and-swap
// that compares a [Fingerprint] of the current value instead of the whole
// value, so that a store costs O(new value) bytes on the wire, and that can
// publish a message in the same round trip.
type FingerprintSwapper interface {
	// SwapFingerprint stores value under key with ttl only if the current
	// value matches old; a nil old means "only if key is absent". When it
	// stored and notice is not nil, it publishes notice.Payload on
	// notice.Channel as [PubSub.Publish] would, in the same step. It
	// reports whether it stored. When the reply is lost the error wraps
	// ErrOutcomeUnknown. A Tail longer than MaxFingerprintTail is an error
	// before any I/O.
	SwapFingerprint(ctx context.Context, key string, old *Fingerprint, value []byte, ttl time.Duration, notice *Notice) (bool, error)
}

// ErrFingerprint is returned for a fingerprint that cannot be used (a
// negative length, or a tail over MaxFingerprintTail or over the length).
var ErrFingerprint = errors.New("backend: invalid fingerprint")

// CheckFingerprint validates old for [FingerprintSwapper.SwapFingerprint]
// (nil is valid: "absent").
func CheckFingerprint(old *Fingerprint) error {
	if old != nil && (old.Len < 0 || len(old.Tail) > MaxFingerprintTail || len(old.Tail) > old.Len) {
		return ErrFingerprint
	}
	return nil
}

// SwapFingerprint runs a fingerprint compare-and-swap through b's
// [FingerprintSwapper] capability. A backend with only [Swapper] falls
// back to reading the current value, matching it against old, and a
// byte-for-byte CompareAndSwap against what it read (atomic, but it costs
// a round trip and the old value on the wire); its notice is then a
// separate Publish after the store, best effort (its failure does not
// fail the swap). A backend with neither yields an error wrapping
// errors.ErrUnsupported.
func SwapFingerprint(ctx context.Context, b Backend, key string, old *Fingerprint, value []byte, ttl time.Duration, notice *Notice) (bool, error) {
	if err := CheckFingerprint(old); err != nil {
		return false, err
	}
	if fs, ok := b.(FingerprintSwapper); ok {
		return fs.SwapFingerprint(ctx, key, old, value, ttl, notice)
	}
	s, ok := b.(Swapper)
	if !ok {
		return false, unsupported(b, "FingerprintSwapper")
	}
	var cur []byte
	if old != nil {
		v, err := b.Get(ctx, key)
		switch {
		case errors.Is(err, ErrNotFound):
			return false, nil
		case err != nil:
			return false, err
		}
		if v == nil {
			v = []byte{}
		}
		if !old.Matches(v) {
			return false, nil
		}
		cur = v
	}
	stored, err := s.CompareAndSwap(ctx, key, cur, value, ttl)
	if err != nil || !stored || notice == nil {
		return stored, err
	}
	if ps, ok := b.(PubSub); ok {
		_ = ps.Publish(ctx, notice.Channel, notice.Payload)
	}
	return true, nil
}
