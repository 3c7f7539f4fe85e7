package codec_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachekit/cachekit/codec"
)

// poolTarget sets decoder options on the pooled decoder and fails: the
// options must not outlive its decode.
type poolTarget struct{}

var errPoolTarget = errors.New("poolTarget refuses")

func (*poolTarget) DecodeMsgpack(dec *msgpack.Decoder) error {
	dec.DisallowUnknownFields(true)
	dec.UseLooseInterfaceDecoding(true)
	dec.SetCustomStructTag("json")
	dec.UseInternedStrings(true)
	_, _ = dec.DecodeRaw()
	return errPoolTarget
}

type poolValue struct {
	Name  string
	Blob  []byte
	Raw   msgpack.RawMessage
	Any   any
	Map   map[string]int
	When  time.Time
	Inner struct{ A, B int64 }
}

type poolValueFewer struct {
	Name string
	Any  any
}

// TestMsgpackPooledDecoderIsClean: MsgPack decodes with a pooled decoder.
// A decode right after a failed one (a type mismatch, garbage, a
// CustomDecoder that turns options on and fails) is exactly what a fresh
// msgpack.Unmarshal gives: no option (unknown fields refused, loose
// interface decoding, another struct tag, interned strings), no recorded
// bytes and no buffer carries over; and the values decoded earlier are not
// changed by later decodes.
func TestMsgpackPooledDecoderIsClean(t *testing.T) {
	v := poolValue{Name: "name", Blob: []byte("blob"), Raw: msgpack.RawMessage{0x93, 1, 2, 3}, Any: int8(5), Map: map[string]int{"k": 1}, When: time.Unix(1700000000, 123).UTC()}
	v.Inner.A, v.Inner.B = 1, 2
	good, err := codec.MsgPack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want poolValue
	if err := msgpack.Unmarshal(good, &want); err != nil {
		t.Fatal(err)
	}
	var wantFewer poolValueFewer // unknown fields skipped, Any not loose
	if err := msgpack.Unmarshal(good, &wantFewer); err != nil {
		t.Fatal(err)
	}
	mismatch, _ := codec.MsgPack.Marshal(map[string]any{"Name": 7, "Map": "x"})
	var kept []poolValue
	for i := range 50 {
		switch i % 3 {
		case 0:
			var p poolTarget
			if err := codec.MsgPack.Unmarshal(good, &p); err == nil {
				t.Fatal("poolTarget decoded")
			}
		case 1:
			var bad poolValue
			if err := codec.MsgPack.Unmarshal(mismatch, &bad); err == nil {
				t.Fatal("a mismatched value decoded")
			}
		case 2:
			var bad poolValue
			_ = codec.MsgPack.Unmarshal(good[:len(good)-3], &bad)
		}
		var got poolValue
		if err := codec.MsgPack.Unmarshal(good, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("after a failed decode: %+v, %v; want %+v", got, err, want)
		}
		var fewer poolValueFewer
		if err := codec.MsgPack.Unmarshal(good, &fewer); err != nil || !reflect.DeepEqual(fewer, wantFewer) {
			t.Fatalf("after a failed decode, into fewer fields: %+v (Any %T), %v; want %+v (Any %T)", fewer, fewer.Any, err, wantFewer, wantFewer.Any)
		}
		kept = append(kept, got)
	}
	for i, k := range kept {
		if !reflect.DeepEqual(k, want) {
			t.Fatalf("value %d changed after later decodes: %+v", i, k)
		}
	}
}
