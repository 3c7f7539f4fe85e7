package codec

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// badTime is gob-encoded like a time.Time (a GobEncoder) but its bytes are
// not a valid time, so decoding it into a Post fails after the fields before
// it were filled.
type badTime struct{ set bool }

func (badTime) GobEncode() ([]byte, error) { return []byte{0xff, 0xff}, nil }

// partialInputs returns, per codec, input that fills some fields of a Post
// before decoding fails.
func partialInputs(t *testing.T) map[Codec][]byte {
	t.Helper()
	mp, err := MsgPack.Marshal(struct {
		ID     int64
		Author string
		Likes  string // Post.Likes is an int64
	}{5, "ada", "many"})
	if err != nil {
		t.Fatal(err)
	}
	gb, err := Gob.Marshal(struct {
		ID        int64
		Author    string
		CreatedAt badTime
	}{5, "ada", badTime{set: true}})
	if err != nil {
		t.Fatal(err)
	}
	return map[Codec][]byte{
		MsgPack: mp,
		JSON:    []byte(`{"ID":5,"Author":"ada","Likes":"many","Title":"t"}`),
		Gob:     gb,
	}
}

// TestFailedDecodeLeavesZeroValue: a decode that fails part-way leaves the
// target at its zero value, not partly filled, for every codec, bare and
// inside an envelope (compressed or not), and envelope-level failures
// (checksum, codec mismatch) zero it too.
func TestFailedDecodeLeavesZeroValue(t *testing.T) {
	t.Parallel()
	dirty := func() Post { p := newPost(8); p.CreatedAt = time.Unix(1, 0); return p }
	for c, in := range partialInputs(t) {
		p := dirty()
		if err := c.Unmarshal(in, &p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s.Unmarshal(partial) = %v, want ErrCorrupt", c.Name(), err)
		}
		if !reflect.DeepEqual(p, Post{}) {
			t.Errorf("%s.Unmarshal(partial) left %+v, want the zero Post", c.Name(), p)
		}
		for _, alg := range []Compression{NoCompression, S2, Zstd} {
			e := Envelope{Codec: c, Compression: alg, Threshold: -1}
			env := finish(nil, []byte{magic0, magic1, version, c.ID(), 0, 0, 0, 0, 0, 0, 0}, in)
			if alg != NoCompression {
				env = finish(nil, []byte{magic0, magic1, version, c.ID(), byte(alg), 0, 0, 0, 0, 0, 0}, compress(alg, nil, in))
			}
			p := dirty()
			if _, err := e.Decode(env, &p); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s/%v envelope Decode(partial) = %v, want ErrCorrupt", c.Name(), alg, err)
			}
			if !reflect.DeepEqual(p, Post{}) {
				t.Errorf("%s/%v envelope Decode(partial) left %+v, want the zero Post", c.Name(), alg, p)
			}
		}
	}
	good, _ := Encode(nil, newPost(1), Meta{})
	bad := append([]byte{}, good...)
	bad[len(bad)-1] ^= 1
	json, _ := (&Envelope{Codec: JSON}).Encode(newPost(1), Meta{})
	for name, data := range map[string][]byte{"bad-crc": bad, "json-entry": json, "short": good[:3]} {
		p := dirty()
		if _, err := Decode(data, &p); !errors.Is(err, ErrCorrupt) || !reflect.DeepEqual(p, Post{}) {
			t.Errorf("Decode(%s) = %v, left %+v; want ErrCorrupt and the zero Post", name, err, p)
		}
	}
}
