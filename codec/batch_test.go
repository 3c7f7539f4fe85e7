package codec

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// batchEntries returns envelopes of every outcome Decode has: values of
// each codec, compressed or not, not-found and tombstone entries, and
// corrupt ones (bad checksum, truncated, garbage, foreign codec) and
// hostile ones (a correct checksum over a msgpack payload whose headers
// claim far more than it holds, or nest too deep).
func batchEntries(t *testing.T) [][]byte {
	t.Helper()
	now := time.Unix(1_800_000_000, 5)
	meta := Meta{CreatedAt: now, SoftExpiry: now.Add(time.Minute), LoadDuration: time.Millisecond, Generation: 7}
	var out [][]byte
	add := func(e Envelope, v any, m Meta) []byte {
		data, err := e.Encode(v, m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
		return data
	}
	good := add(Envelope{}, newPost(1), meta)
	add(Envelope{}, newPost(2), Meta{})
	add(Envelope{Compression: S2, Threshold: -1}, newPost(3), meta)
	add(Envelope{Compression: Zstd, Threshold: -1}, newPost(4), meta)
	add(Envelope{Codec: JSON}, newPost(5), meta) // a codec mismatch for a msgpack reader
	add(Envelope{Codec: Gob}, newPost(6), meta)
	add(Envelope{}, nil, Meta{Kind: KindNotFound, SoftExpiry: now})
	add(Envelope{}, nil, Meta{Kind: KindTombstone})
	add(Envelope{}, "a string, not a Post", meta)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40
	out = append(out, flipped, good[:len(good)-1], good[:7], []byte("\xc1garbage"), nil, []byte{})
	for _, h := range hostileMsgpack {
		out = append(out, finish(nil, []byte{magic0, magic1, version, idMsgPack, 0, 0, 0, 0, 0, 0, 0}, h.data))
	}
	// A valid payload followed by trailing bytes, under a correct checksum.
	p, _ := MsgPack.Marshal(newPost(9))
	out = append(out, finish(nil, []byte{magic0, magic1, version, idMsgPack, 0, 0, 0, 0, 0, 0, 0}, append(p, 0xc0)))
	return out
}

// TestDecodeBatchIsDecode: for every entry of a batch that mixes every
// outcome, across several of DecodeBatch's stages, DecodeBatch gives what
// Decode gives: the metadata, the error (ErrCorrupt for the corrupt and
// hostile ones) and the value, or a zeroed target; for readers of one
// codec and of several.
func TestDecodeBatchIsDecode(t *testing.T) {
	t.Parallel()
	entries := batchEntries(t)
	var data [][]byte
	for len(data) < 3*batchStage+5 {
		data = append(data, entries...)
	}
	for _, r := range []struct {
		name string
		env  *Envelope
	}{
		{"msgpack", &Envelope{}},
		{"msgpack+json+gob+raw", anyReader},
		{"json+msgpack", &Envelope{Codec: JSON, Accept: []Codec{MsgPack}}},
	} {
		env := r.env
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			targets := make([]any, len(data))
			for i := range targets {
				// Stale fields that a decode must not keep.
				targets[i] = &Post{ID: -1, Author: "stale", Meta: map[string]string{"stale": "x"}}
			}
			metas := make([]Meta, len(data))
			errs := make([]error, len(data))
			env.DecodeBatch(data, targets, metas, errs)
			corrupt := 0
			for i, d := range data {
				want := &Post{ID: -1, Author: "stale", Meta: map[string]string{"stale": "x"}}
				wantMeta, wantErr := env.Decode(d, want)
				if fmt.Sprint(errs[i]) != fmt.Sprint(wantErr) || errors.Is(errs[i], ErrCorrupt) != errors.Is(wantErr, ErrCorrupt) {
					t.Fatalf("entry %d: DecodeBatch error = %v, Decode = %v", i, errs[i], wantErr)
				}
				if !sameMeta(metas[i], wantMeta) || metas[i].Codec != wantMeta.Codec || metas[i].Compression != wantMeta.Compression {
					t.Fatalf("entry %d: DecodeBatch meta = %+v, Decode = %+v", i, metas[i], wantMeta)
				}
				if !reflect.DeepEqual(targets[i], want) {
					t.Fatalf("entry %d: DecodeBatch value = %+v, Decode = %+v", i, targets[i], want)
				}
				if errs[i] != nil {
					corrupt++
					if !errors.Is(errs[i], ErrCorrupt) {
						t.Fatalf("entry %d: DecodeBatch error = %v, want ErrCorrupt", i, errs[i])
					}
					if !reflect.ValueOf(targets[i]).Elem().IsZero() {
						t.Fatalf("entry %d: DecodeBatch error %v left %+v, want a zeroed target", i, errs[i], targets[i])
					}
				}
			}
			if corrupt == 0 || corrupt == len(data) {
				t.Fatalf("%d of %d entries failed to decode; the batch must mix both", corrupt, len(data))
			}
		})
	}
}

// TestDecodeBatchInvalidTargets: a nil or non-pointer target is an
// *InvalidTargetError for its entry, as with Decode, even when the entry
// is also corrupt; the other entries decode.
func TestDecodeBatchInvalidTargets(t *testing.T) {
	t.Parallel()
	var e Envelope
	good, _ := e.Encode(newPost(1), Meta{})
	hostile := finish(nil, []byte{magic0, magic1, version, idMsgPack, 0, 0, 0, 0, 0, 0, 0}, hostileMsgpack[0].data)
	var p1, p2 Post
	data := [][]byte{good, good, hostile, good}
	targets := []any{nil, &p1, Post{}, &p2}
	metas := make([]Meta, len(data))
	errs := make([]error, len(data))
	e.DecodeBatch(data, targets, metas, errs)
	var ite *InvalidTargetError
	for _, i := range []int{0, 2} {
		_, want := e.Decode(data[i], targets[i])
		if !errors.As(errs[i], &ite) || errs[i].Error() != want.Error() {
			t.Errorf("entry %d: DecodeBatch error = %v, want Decode's %v", i, errs[i], want)
		}
	}
	if errs[1] != nil || errs[3] != nil || !equalPost(p1, newPost(1)) || !equalPost(p2, newPost(1)) {
		t.Errorf("valid entries: errors %v, %v; values %+v, %+v; want the post twice", errs[1], errs[3], p1, p2)
	}
}

// panicky panics while decoding the string "panic".
type panicky struct{ S string }

func (p *panicky) DecodeMsgpack(d *msgpack.Decoder) error {
	s, err := d.DecodeString()
	if s == "panic" {
		panic("panicky: boom")
	}
	p.S = s
	return err
}

// TestDecodeBatchDecoderPanic: a decode that panics is a corrupt entry
// with a zeroed target, and the entries after it, which DecodeBatch
// decodes with another decoder, still decode right.
func TestDecodeBatchDecoderPanic(t *testing.T) {
	t.Parallel()
	var e Envelope
	var data [][]byte
	for i := range 2*batchStage + 3 {
		s := fmt.Sprint("v", i)
		if i%5 == 2 {
			s = "panic"
		}
		d, err := e.Encode(s, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, d)
	}
	targets := make([]any, len(data))
	for i := range targets {
		targets[i] = &panicky{S: "stale"}
	}
	errs := make([]error, len(data))
	e.DecodeBatch(data, targets, make([]Meta, len(data)), errs)
	for i := range data {
		got := targets[i].(*panicky).S
		if i%5 == 2 {
			if !errors.Is(errs[i], ErrCorrupt) || got != "" {
				t.Errorf("entry %d (panics): error %v, value %q; want ErrCorrupt and a zeroed target", i, errs[i], got)
			}
			continue
		}
		if want := fmt.Sprint("v", i); errs[i] != nil || got != want {
			t.Errorf("entry %d: error %v, value %q; want %q", i, errs[i], got, want)
		}
	}
}

// TestDecodeBatchHostileBounded: a batch of hostile entries (correct
// checksums over payloads that claim gigabytes) costs no more to reject
// than each entry does alone.
func TestDecodeBatchHostileBounded(t *testing.T) {
	// Not parallel: measures allocations.
	var data [][]byte
	var limit uint64
	for _, h := range hostileMsgpack {
		env := finish(nil, []byte{magic0, magic1, version, idMsgPack, 0, 0, 0, 0, 0, 0, 0}, h.data)
		data = append(data, env)
		limit += allocLimit(len(env))
	}
	for _, newTarget := range []func() any{func() any { return new(any) }, func() any { return new([]byte) }, func() any { return new(Post) }} {
		targets := make([]any, len(data))
		for i := range targets {
			targets[i] = newTarget()
		}
		metas := make([]Meta, len(data))
		errs := make([]error, len(data))
		n := allocated(func() { (&Envelope{}).DecodeBatch(data, targets, metas, errs) })
		for i, err := range errs {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("DecodeBatch: %s into %T = %v, want ErrCorrupt", hostileMsgpack[i].name, targets[i], err)
			}
		}
		if n > limit {
			t.Errorf("DecodeBatch of %d hostile entries into %T allocated %d bytes, want <= %d", len(data), targets[0], n, limit)
		}
	}
}

func TestDecodeBatchLengths(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("DecodeBatch with fewer targets than data did not panic")
		}
	}()
	var e Envelope
	e.DecodeBatch(make([][]byte, 2), make([]any, 1), make([]Meta, 2), make([]error, 2))
}
