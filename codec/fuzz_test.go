package codec

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// fuzzValue is a small struct built from fuzzer inputs.
type fuzzValue struct {
	S string
	B []byte
	N int64
	F float64
	T time.Time
	M map[string]string
}

func addHostileSeeds(f *testing.F) {
	for _, h := range hostileMsgpack {
		if len(h.data) < 1000 {
			f.Add(h.data)
		}
	}
}

func FuzzRoundTripCodec(f *testing.F) {
	f.Add("hello", []byte{1, 2, 3}, int64(-5), 1.5, int64(1710428966535897932), "k")
	f.Add("", []byte(nil), int64(0), 0.0, int64(0), "")
	f.Fuzz(func(t *testing.T, s string, b []byte, n int64, fl float64, ns int64, k string) {
		in := fuzzValue{S: s, B: b, N: n, F: fl, T: time.Unix(0, ns).UTC(), M: map[string]string{k: s}}
		for _, c := range []Codec{MsgPack, Gob} { // JSON rewrites invalid UTF-8 and NaN
			data, err := c.Marshal(in)
			if err != nil {
				t.Fatalf("%s.Marshal(%+v) = %v", c.Name(), in, err)
			}
			var got fuzzValue
			if err := c.Unmarshal(data, &got); err != nil {
				t.Fatalf("%s.Unmarshal(Marshal(%+v)) = %v", c.Name(), in, err)
			}
			if got.S != in.S || !bytes.Equal(got.B, in.B) || got.N != in.N ||
				(got.F != in.F && fl == fl) || !got.T.Equal(in.T) || got.M[k] != s {
				t.Errorf("%s round trip = %+v, want %+v", c.Name(), got, in)
			}
		}
		var got []byte
		if data, err := Raw.Marshal(b); err != nil || Raw.Unmarshal(data, &got) != nil || !bytes.Equal(got, b) {
			t.Errorf("raw round trip = %q, want %q", got, b)
		}
	})
}

func FuzzRoundTripCompression(f *testing.F) {
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
	f.Add([]byte{})
	p, _ := MsgPack.Marshal(newPost(1))
	f.Add(p)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, alg := range []Compression{S2, Zstd} {
			comp := compress(alg, nil, b)
			got, err := decompress(alg, comp, len(b))
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("decompress(%v, compress(%q)) = %q, %v", alg, b, got, err)
			}
			e := Envelope{Codec: Raw, Compression: alg, Threshold: -1}
			data, err := e.Encode(b, Meta{Generation: 1})
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			if _, err := e.Decode(data, &out); err != nil || !bytes.Equal(out, b) {
				t.Fatalf("Decode(Encode(%q, %v)) = %q, %v", b, alg, out, err)
			}
			// Arbitrary bytes as a compressed payload must not panic.
			if _, err := decompress(alg, b, 1<<20); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Errorf("decompress(%v, garbage) = %v, want ErrCorrupt", alg, err)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, env := range validEnvelopes(f) {
		f.Add(env)
	}
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		// Re-seal with a correct checksum so the fuzzer explores past it.
		if len(data) > crcSize {
			checkDecode(t, withCRC(data[:len(data)-crcSize]))
		}
	})
}

// checkDecode asserts that Decode of arbitrary data either wraps ErrCorrupt
// or gives a value that survives another encode and decode.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	{
		var v any
		meta, err := anyReader.Decode(data, &v)
		if _, merr := DecodeMeta(data); (merr == nil) != (err == nil) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeMeta = %v but Decode = %v", merr, err)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode = %v, want ErrCorrupt", err)
			}
			return
		}
		// It decoded: encoding it again must round-trip.
		again, err := (&Envelope{Codec: meta.Codec, Compression: meta.Compression, Threshold: -1}).Encode(v, meta)
		if err != nil {
			return // some decoded values (e.g. gob-decoded interfaces) cannot be re-encoded
		}
		var v2 any
		meta2, err := anyReader.Decode(again, &v2)
		if err != nil || !sameMeta(meta, meta2) {
			t.Fatalf("Decode(Encode(decoded)) = %+v, %v, want %+v", meta2, err, meta)
		}
	}
}

func FuzzCheckMsgpack(f *testing.F) {
	p, _ := MsgPack.Marshal(newPost(1))
	fd, _ := MsgPack.Marshal(newFeed())
	f.Add(p)
	f.Add(fd)
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkMsgpack(data)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("checkMsgpack = %v, want nil or ErrCorrupt", err)
		}
		var v any
		uerr := MsgPack.Unmarshal(data, &v)
		if err != nil && uerr == nil {
			t.Fatalf("checkMsgpack = %v but Unmarshal succeeded", err)
		}
		if uerr != nil && !errors.Is(uerr, ErrCorrupt) {
			t.Fatalf("Unmarshal = %v, want ErrCorrupt", uerr)
		}
		if uerr == nil {
			// What decodes re-encodes to something that passes the check.
			again, err := MsgPack.Marshal(v)
			if err != nil {
				t.Fatalf("Marshal(decoded) = %v", err)
			}
			if err := checkMsgpack(again); err != nil {
				t.Fatalf("checkMsgpack(Marshal(decoded)) = %v", err)
			}
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	for _, c := range []Codec{MsgPack, JSON, Gob} {
		p, _ := c.Marshal(newPost(1))
		f.Add(c.ID(), p)
	}
	f.Add(idJSON, []byte(`[[[[{"a":"b"}]]]]`))
	f.Fuzz(func(t *testing.T, id byte, data []byte) {
		c, ok := ByID(id)
		if !ok {
			return
		}
		for _, target := range hostileTargets() {
			if err := c.Unmarshal(data, target); err != nil && !errors.Is(err, ErrCorrupt) {
				var ute *UnsupportedTypeError
				if c == Raw && errors.As(err, &ute) {
					continue
				}
				t.Fatalf("%s.Unmarshal(%T) = %v, want nil or ErrCorrupt", c.Name(), target, err)
			}
		}
	})
}
