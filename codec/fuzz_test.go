package codec

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
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
	f.Add("\xff", []byte{0}, int64(-1), math.NaN(), int64(-1), "\xc3")
	f.Fuzz(func(t *testing.T, s string, b []byte, n int64, fl float64, ns int64, k string) {
		in := fuzzValue{S: s, B: b, N: n, F: fl, T: time.Unix(0, ns).UTC(), M: map[string]string{k: s}}
		for _, c := range allCodecs {
			in := in
			if c == JSON {
				// JSON text is UTF-8 and has no NaN or infinities.
				in.S, in.M = strings.ToValidUTF8(s, "\uFFFD"), map[string]string{strings.ToValidUTF8(k, "\uFFFD"): strings.ToValidUTF8(s, "\uFFFD")}
				if math.IsNaN(fl) || math.IsInf(fl, 0) {
					in.F = 0
				}
			}
			data, err := c.Marshal(in)
			if err != nil {
				t.Fatalf("%s.Marshal(%+v) = %v", c.Name(), in, err)
			}
			var got fuzzValue
			if err := c.Unmarshal(data, &got); err != nil {
				t.Fatalf("%s.Unmarshal(Marshal(%+v)) = %v", c.Name(), in, err)
			}
			if got.S != in.S || !bytes.Equal(got.B, in.B) || got.N != in.N ||
				(got.F != in.F && in.F == in.F) || !got.T.Equal(in.T) || !maps.Equal(got.M, in.M) {
				t.Errorf("%s round trip = %+v, want %+v", c.Name(), got, in)
			}
		}
		var got []byte
		if data, err := Raw.Marshal(b); err != nil || Raw.Unmarshal(data, &got) != nil || !bytes.Equal(got, b) {
			t.Errorf("raw round trip = %q, want %q", got, b)
		}
	})
}

// fuzzTree is the recursive type of FuzzRoundTripNested. Every node costs
// two levels of nesting in every codec (the struct, then its slice or map),
// so a chain of MaxDepth/2 nodes is the deepest accepted.
type fuzzTree struct {
	Name string
	Kids []*fuzzTree
	Tags map[string]*fuzzTree
}

// treeChain builds a chain of n nodes from shape: bit i of shape (cycled)
// says whether node i holds its child in Kids or in Tags, and the names
// come from name.
func treeChain(n int, shape []byte, name string) *fuzzTree {
	root := &fuzzTree{Name: name}
	node := root
	for i := 1; i < n; i++ {
		kid := &fuzzTree{Name: name + strconv.Itoa(i)}
		if len(shape) > 0 && shape[(i/8)%len(shape)]>>(i%8)&1 == 1 {
			node.Tags = map[string]*fuzzTree{kid.Name: kid}
		} else {
			node.Kids = []*fuzzTree{kid}
		}
		node = kid
	}
	return root
}

// FuzzRoundTripNested round-trips recursive values of up to twice the
// accepted depth through every codec in an envelope (the input also picks
// the compression): up to MaxDepth they decode equal, beyond it every codec
// refuses them with ErrCorrupt (never a crash, never a partial value).
func FuzzRoundTripNested(f *testing.F) {
	f.Add(uint8(0), []byte{0}, "a")
	f.Add(uint8(MaxDepth/2-1), []byte{0xaa}, "n")           // deepest accepted, uncompressed
	f.Add(uint8(MaxDepth+MaxDepth/2), []byte{0x0f}, "deep") // one past it, s2
	f.Add(uint8(2*MaxDepth+MaxDepth/2-1), []byte{0xff}, "") // deepest accepted, zstd
	f.Add(uint8(2*MaxDepth+MaxDepth-1), []byte{0x33}, "z")  // twice too deep, zstd
	f.Fuzz(func(t *testing.T, n uint8, shape []byte, name string) {
		name = strings.ToValidUTF8(name, "?")
		nodes := int(n)%MaxDepth + 1 // up to twice the deepest accepted
		in := treeChain(nodes, shape, name)
		ok := nodes <= MaxDepth/2
		alg := Compression(int(n) / MaxDepth % 3) // none, s2, zstd
		for _, c := range allCodecs {
			e := Envelope{Codec: c, Compression: alg, Threshold: -1}
			data, err := e.Encode(in, Meta{})
			if err != nil {
				t.Fatalf("%s.Encode(chain of %d) = %v", c.Name(), nodes, err)
			}
			got := &fuzzTree{Name: "dirty"}
			_, err = e.Decode(data, &got)
			switch {
			case ok && (err != nil || !reflect.DeepEqual(got, in)):
				t.Fatalf("%s/%v: Decode(chain of %d) = %v, want it back", c.Name(), alg, nodes, err)
			case !ok && (!errors.Is(err, ErrCorrupt) || got != nil):
				t.Fatalf("%s/%v: Decode(chain of %d) = %+v, %v, want nil and ErrCorrupt", c.Name(), alg, nodes, got, err)
			}
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
		var sealed []byte
		if len(data) > crcSize {
			sealed = withCRC(data[:len(data)-crcSize])
			checkDecode(t, sealed)
		}
		checkDecodeBatch(t, [][]byte{data, sealed, data})
	})
}

// sameDecoded reports whether two decodes gave the same value (NaN
// included, which DeepEqual tells apart from itself).
func sameDecoded(a, b any) bool {
	return reflect.DeepEqual(a, b) || fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

// checkDecodeBatch asserts that DecodeBatch gives for every entry of data
// what Decode gives.
func checkDecodeBatch(t *testing.T, data [][]byte) {
	t.Helper()
	targets := make([]any, len(data))
	for i := range targets {
		targets[i] = new(any)
	}
	metas := make([]Meta, len(data))
	errs := make([]error, len(data))
	anyReader.DecodeBatch(data, targets, metas, errs)
	for i, d := range data {
		var want any
		meta, err := anyReader.Decode(d, &want)
		if fmt.Sprint(errs[i]) != fmt.Sprint(err) || !sameMeta(metas[i], meta) || !sameDecoded(*targets[i].(*any), want) {
			t.Fatalf("DecodeBatch entry %d = %v, %+v, %v; Decode = %v, %+v, %v", i, *targets[i].(*any), metas[i], errs[i], want, meta, err)
		}
	}
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
		if ref := refCheckMsgpack(data); (ref == nil) != (err == nil) {
			t.Fatalf("checkMsgpack = %v, recursive reference = %v", err, ref)
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
	// Deep and recursive values of every codec, just past MaxDepth.
	deep := treeChain(MaxDepth/2+1, []byte{0x55}, "x")
	for _, c := range allCodecs {
		data, _ := c.Marshal(deep)
		f.Add(c.ID(), data)
	}
	f.Add(idGob, gobDeepList(f, MaxDepth))
	f.Add(idGob, gobBoxChain(f, MaxDepth))
	f.Add(idMsgPack, append(bytes.Repeat([]byte{0x91}, MaxDepth+1), 0xc0))
	f.Add(idJSON, []byte(strings.Repeat("[", MaxDepth+1)+strings.Repeat("]", MaxDepth+1)))
	f.Fuzz(func(t *testing.T, id byte, data []byte) {
		c, ok := ByID(id)
		if !ok {
			return
		}
		for _, target := range append(hostileTargets(), new(deepList), new(gobBox), new(*fuzzTree)) {
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

func FuzzCheckGob(f *testing.F) {
	for _, v := range gobValues() {
		data, _ := Gob.Marshal(v)
		f.Add(data)
	}
	f.Add(gobDeepList(f, MaxDepth+1))
	f.Add(gobBoxChain(f, MaxDepth+1))
	f.Add(gobTypeChain(5))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkGob(data)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("checkGob = %v, want nil or ErrCorrupt", err)
		}
		var list deepList
		var box gobBox
		var tree *fuzzTree
		for _, target := range []any{&list, &box, &tree, new(Post), new(any), new(map[string]any)} {
			uerr := Gob.Unmarshal(data, target)
			if err != nil && uerr == nil {
				t.Fatalf("checkGob = %v but Unmarshal(%T) succeeded", err, target)
			}
			if uerr != nil && !errors.Is(uerr, ErrCorrupt) {
				t.Fatalf("Unmarshal(%T) = %v, want nil or ErrCorrupt", target, uerr)
			}
		}
		// What checkGob let through nests at most MaxDepth deep.
		nodes, boxes := 0, 0
		for p := &list; p != nil; p = p.Next {
			nodes++
		}
		for v := any(box); ; boxes++ {
			b, ok := v.(gobBox)
			if !ok {
				break
			}
			v = b.V
		}
		if nodes > MaxDepth || boxes > MaxDepth {
			t.Fatalf("decoded a list of %d and %d nested boxes, want <= %d", nodes, boxes, MaxDepth)
		}
	})
}
