package codec_test

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cachekit/cachekit/codec"
)

type User struct {
	ID   int64
	Name string
}

func ExampleMsgPack() {
	data, err := codec.MsgPack.Marshal(User{ID: 1, Name: "ada"})
	if err != nil {
		panic(err)
	}
	var u User
	if err := codec.MsgPack.Unmarshal(data, &u); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", u)
	// Output: {ID:1 Name:ada}
}

func ExampleEncode() {
	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	data, err := codec.Encode(codec.MsgPack, User{ID: 7, Name: "grace"}, codec.Meta{
		CreatedAt:  created,
		SoftExpiry: created.Add(time.Minute),
		Generation: 3,
	})
	if err != nil {
		panic(err)
	}
	var u User
	meta, err := codec.Decode(data, &u)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v %s gen=%d ttl=%v\n", u, meta.Codec.Name(), meta.Generation, meta.SoftExpiry.Sub(meta.CreatedAt))
	// Output: {ID:7 Name:grace} msgpack gen=3 ttl=1m0s
}

func ExampleEnvelope() {
	env := codec.Envelope{Codec: codec.JSON, Compression: codec.S2} // compress payloads >= 1 KiB
	data, err := env.Encode(strings.Repeat("cache ", 1000), codec.Meta{})
	if err != nil {
		panic(err)
	}
	meta, err := codec.DecodeMeta(data) // header only: no decoding or decompression
	if err != nil {
		panic(err)
	}
	fmt.Println(meta.Codec.Name(), meta.Compression, len(data) < 1000)
	// Output: json s2 true
}

func ExampleDecodeMeta() {
	data, err := codec.Encode(nil, nil, codec.Meta{Kind: codec.KindTombstone, Generation: 9})
	if err != nil {
		panic(err)
	}
	meta, err := codec.DecodeMeta(data)
	fmt.Println(meta.Kind, meta.Generation, err)
	// Output: tombstone 9 <nil>
}

func ExampleErrCorrupt() {
	var u User
	_, err := codec.Decode([]byte(`{"ID":1,"Name":"not an envelope"}`), &u)
	fmt.Println(errors.Is(err, codec.ErrCorrupt))

	// A 5-byte msgpack header claiming a 1 GiB string is rejected up front.
	var s string
	err = codec.MsgPack.Unmarshal([]byte{0xdb, 0x40, 0x00, 0x00, 0x00}, &s)
	fmt.Println(errors.Is(err, codec.ErrCorrupt))
	// Output:
	// true
	// true
}

// The codec is the reader's choice: an entry written with another codec is
// corrupt, unless the reader accepts that codec while migrating.
func ExampleEnvelope_Decode() {
	old := codec.Envelope{Codec: codec.JSON}
	data, err := old.Encode(User{ID: 2, Name: "hopper"}, codec.Meta{})
	if err != nil {
		panic(err)
	}
	var u User
	_, err = (&codec.Envelope{Codec: codec.MsgPack}).Decode(data, &u)
	fmt.Println(errors.Is(err, codec.ErrCorrupt), errors.Is(err, codec.ErrCodecMismatch))

	migrating := codec.Envelope{Codec: codec.MsgPack, Accept: []codec.Codec{codec.JSON}}
	meta, err := migrating.Decode(data, &u)
	fmt.Printf("%+v %s %v\n", u, meta.Codec.Name(), err)
	// Output:
	// true true
	// {ID:2 Name:hopper} json <nil>
}

// CheckGob vets gob bytes before another decoder (here encoding/gob
// itself) reads them: a value nested deeper than MaxDepth is refused
// without decoding it.
func ExampleCheckGob() {
	type node struct {
		Next *node
	}
	deep := &node{}
	for range codec.MaxDepth + 10 {
		deep = &node{Next: deep}
	}
	var buf bytes.Buffer
	_ = gob.NewEncoder(&buf).Encode(deep)
	fmt.Println(errors.Is(codec.CheckGob(buf.Bytes()), codec.ErrCorrupt))

	buf.Reset()
	_ = gob.NewEncoder(&buf).Encode(&node{Next: &node{}})
	fmt.Println(codec.CheckGob(buf.Bytes()))
	// Output:
	// true
	// <nil>
}
