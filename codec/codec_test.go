package codec

import (
	"errors"
	"github.com/cachekit/cachekit/internal/sample"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Post and Feed are the realistic values shared with the cachekit
// command's built-in codec report (internal/sample).
type (
	Post = sample.Post
	Feed = sample.Feed
)

func newPost(id int64) Post { return sample.NewPost(id) }

func newFeed() Feed { return sample.NewFeed(0) }

// equalPost compares posts treating nil and empty slices and maps as equal
// (gob does not transmit empty values) and times by instant.
func equalPost(a, b Post) bool {
	return a.ID == b.ID && a.Author == b.Author && a.Title == b.Title && a.Body == b.Body &&
		slices.Equal(a.Tags, b.Tags) && a.CreatedAt.Equal(b.CreatedAt) && a.Likes == b.Likes &&
		maps.Equal(a.Meta, b.Meta)
}

var allCodecs = []Codec{MsgPack, JSON, Gob}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Now() // has nanoseconds and a monotonic reading
	empty := Post{Tags: []string{}, CreatedAt: now}
	nilMap := newPost(7)
	nilMap.Meta = nil
	nilMap.Tags = nil
	cases := []struct {
		name string
		in   Post
	}{
		{"full", newPost(1)},
		{"now", Post{ID: 2, CreatedAt: now}},
		{"empty-slice", empty},
		{"nil-map", nilMap},
		{"zero", Post{}},
	}
	for _, c := range allCodecs {
		for _, tc := range cases {
			t.Run(c.Name()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				data, err := c.Marshal(tc.in)
				if err != nil {
					t.Fatalf("Marshal(%+v) error: %v", tc.in, err)
				}
				var got Post
				if err := c.Unmarshal(data, &got); err != nil {
					t.Fatalf("Unmarshal(%q) error: %v", data, err)
				}
				if !equalPost(got, tc.in) {
					t.Errorf("Unmarshal(Marshal(v)) = %+v, want %+v", got, tc.in)
				}
				if !got.CreatedAt.Equal(tc.in.CreatedAt) || got.CreatedAt.Nanosecond() != tc.in.CreatedAt.Nanosecond() {
					t.Errorf("CreatedAt = %v, want %v (nanoseconds kept)", got.CreatedAt, tc.in.CreatedAt)
				}
			})
		}
	}
}

func TestRoundTripNilMapAndEmptySlice(t *testing.T) {
	t.Parallel()
	type T struct {
		M map[string]int
		S []int
	}
	// msgpack and JSON keep the difference between nil and empty.
	for _, c := range []Codec{MsgPack, JSON} {
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			data, err := c.Marshal(T{M: nil, S: []int{}})
			if err != nil {
				t.Fatal(err)
			}
			var got T
			if err := c.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if got.M != nil || got.S == nil || len(got.S) != 0 {
				t.Errorf("Unmarshal = %#v, want nil map and empty non-nil slice", got)
			}
		})
	}
}

func TestUnmarshalResetsTarget(t *testing.T) {
	t.Parallel()
	for _, c := range allCodecs {
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			// The second value has zero fields: gob does not transmit them, so
			// without a reset the first value's fields would survive.
			data, err := c.Marshal(Post{ID: 9})
			if err != nil {
				t.Fatal(err)
			}
			got := newPost(1)
			if err := c.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if want := (Post{ID: 9}); !reflect.DeepEqual(got, want) {
				t.Errorf("Unmarshal into reused struct = %+v, want %+v", got, want)
			}
			m := map[string]string{"stale": "yes"}
			data, err = c.Marshal(map[string]string{"fresh": "yes"})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			if _, ok := m["stale"]; ok || m["fresh"] != "yes" {
				t.Errorf("Unmarshal into reused map = %v, want only fresh", m)
			}
		})
	}
}

func TestUnmarshalInvalidTarget(t *testing.T) {
	t.Parallel()
	var nilPost *Post
	for _, c := range append(allCodecs, Raw) {
		data, err := c.Marshal("x")
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []any{nil, Post{}, nilPost, "x"} {
			err := c.Unmarshal(data, target)
			var ite *InvalidTargetError
			if !errors.As(err, &ite) {
				t.Errorf("%s.Unmarshal(%T) = %v, want *InvalidTargetError", c.Name(), target, err)
			}
			if errors.Is(err, ErrCorrupt) {
				t.Errorf("%s.Unmarshal(%T) = %v, must not wrap ErrCorrupt", c.Name(), target, err)
			}
		}
	}
}

func TestRaw(t *testing.T) {
	t.Parallel()
	b := []byte("hello")
	s := "hello"
	for _, in := range []any{b, &b, s, &s} {
		data, err := Raw.Marshal(in)
		if err != nil || string(data) != "hello" {
			t.Errorf("Raw.Marshal(%T) = %q, %v, want %q", in, data, err, "hello")
		}
	}
	data, _ := Raw.Marshal(b)
	data[0] = 'J'
	if string(b) != "hello" {
		t.Errorf("Raw.Marshal aliases its input: %q", b)
	}
	var gotB []byte
	var gotS string
	if err := Raw.Unmarshal([]byte("abc"), &gotB); err != nil || string(gotB) != "abc" {
		t.Errorf("Raw.Unmarshal(*[]byte) = %q, %v", gotB, err)
	}
	if err := Raw.Unmarshal([]byte("abc"), &gotS); err != nil || gotS != "abc" {
		t.Errorf("Raw.Unmarshal(*string) = %q, %v", gotS, err)
	}
	var ute *UnsupportedTypeError
	if _, err := Raw.Marshal(42); !errors.As(err, &ute) {
		t.Errorf("Raw.Marshal(42) = %v, want *UnsupportedTypeError", err)
	}
	n := 5
	if err := Raw.Unmarshal([]byte("abc"), &n); !errors.As(err, &ute) {
		t.Errorf("Raw.Unmarshal(*int) = %v, want *UnsupportedTypeError", err)
	}
}

func TestByID(t *testing.T) {
	t.Parallel()
	seen := map[byte]string{}
	for _, c := range append(allCodecs, Raw) {
		got, ok := ByID(c.ID())
		if !ok || got.Name() != c.Name() {
			t.Errorf("ByID(%d) = %v, %v, want %s", c.ID(), got, ok, c.Name())
		}
		if prev, dup := seen[c.ID()]; dup {
			t.Errorf("ID %d used by %s and %s", c.ID(), prev, c.Name())
		}
		seen[c.ID()] = c.Name()
	}
	for _, id := range []byte{0, 5, 255} {
		if c, ok := ByID(id); ok {
			t.Errorf("ByID(%d) = %v, true, want false", id, c.Name())
		}
	}
	if Default != MsgPack {
		t.Errorf("Default = %s, want msgpack", Default.Name())
	}
}

func TestGarbageIsCorrupt(t *testing.T) {
	t.Parallel()
	inputs := [][]byte{nil, {}, {0xc1}, []byte("not json {"), {0xff, 0xff, 0xff}, []byte(`{"ID": "x"}`), {0x92, 0x01}}
	for _, c := range allCodecs {
		for _, in := range inputs {
			var p Post
			if err := c.Unmarshal(in, &p); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s.Unmarshal(%q) = %v, want ErrCorrupt", c.Name(), in, err)
			}
		}
	}
}

func TestTrailingBytesAreCorrupt(t *testing.T) {
	t.Parallel()
	for _, c := range []Codec{MsgPack, Gob} {
		data, err := c.Marshal(newPost(1))
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, 0x01)
		var p Post
		if err := c.Unmarshal(data, &p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s.Unmarshal(value + 1 byte) = %v, want ErrCorrupt", c.Name(), err)
		}
	}
}
