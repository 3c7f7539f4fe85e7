package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cachekit/cachekit/codec"
)

// FuzzPayloadText: whatever bytes a key holds, get explains them or says
// why not, without panicking, and prints at most about max bytes of
// payload.
func FuzzPayloadText(f *testing.F) {
	for _, c := range []codec.Codec{codec.MsgPack, codec.JSON, codec.Gob, codec.Raw} {
		for _, comp := range []codec.Compression{codec.NoCompression, codec.S2, codec.Zstd} {
			env := codec.Envelope{Codec: c, Compression: comp, Threshold: -1}
			var v any = map[string]any{"a": []any{1.5, "x", nil, true}, "b": strings.Repeat("y", 50)}
			if c == codec.Raw {
				v = []byte("\x00\xffraw bytes")
			}
			if c == codec.Gob {
				v = "a gob string"
			}
			data, err := env.Encode(v, codec.Meta{CreatedAt: time.Unix(1, 0)})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := codec.DecodeMeta(data)
		if err != nil {
			return
		}
		out := payloadText(data, m, 256)
		if !strings.HasPrefix(out, "payload") {
			t.Fatalf("payloadText = %q", out)
		}
		if len(out) > 256+200 {
			t.Fatalf("payloadText printed %d bytes with max 256", len(out))
		}
	})
}

func TestPayloadTextRendersEachCodec(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    codec.Codec
		v    any
		want string
	}{
		{codec.MsgPack, map[string]any{"n": 1}, `"n": 1`},
		{codec.JSON, map[string]any{"s": "x"}, `"s": "x"`},
		{codec.Raw, []byte("plain text"), "payload (raw, text):\nplain text"},
		{codec.Raw, []byte{0xff, 0x00}, "payload (raw, binary, base64):\n/wA="},
		{codec.Gob, "x", "gob cannot decode without the Go type"},
	} {
		data, err := (&codec.Envelope{Codec: tc.c}).Encode(tc.v, codec.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := codec.DecodeMeta(data)
		if got := payloadText(data, m, 4096); !strings.Contains(got, tc.want) {
			t.Errorf("%s: payloadText = %q, want %q", tc.c.Name(), got, tc.want)
		}
	}
	data, _ := (&codec.Envelope{}).Encode(map[string]any{"long": strings.Repeat("z", 1000)}, codec.Meta{})
	m, _ := codec.DecodeMeta(data)
	if got := payloadText(data, m, 100); !strings.Contains(got, "first 100 of") {
		t.Errorf("long payload not truncated: %q", got)
	}
}
