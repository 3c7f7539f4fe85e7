package codec

import (
	"bytes"
	"encoding/gob"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// gobNode is a recursive type: a linked list.
type gobNode struct {
	V    int
	Next *gobNode
}

// gobTree is recursive through a slice and a map.
type gobTree struct {
	Name     string
	Children []*gobTree
	ByName   map[string]*gobTree
}

// gobBox nests through interface values.
type gobBox struct {
	V any
}

// gobInner is only ever sent inside an interface inside an interface.
type gobInner struct {
	X []int
	Y any
}

func init() {
	gob.Register(gobBox{})
	gob.Register(&gobInner{})
	gob.Register(Post{})
	gob.Register(map[string]any{})
	gob.Register([]any{})
}

// gobValues are values whose gob encodings checkGob must accept.
func gobValues() []any {
	list := &gobNode{V: 1}
	for i := range MaxDepth - 2 {
		list = &gobNode{V: i, Next: list}
	}
	tree := &gobTree{Name: "root", ByName: map[string]*gobTree{}}
	for i := range 3 {
		c := &gobTree{Name: strings.Repeat("c", i+1), Children: []*gobTree{{Name: "leaf"}}}
		tree.Children = append(tree.Children, c)
		tree.ByName[c.Name] = c
	}
	var box any = "bottom"
	for range 20 {
		box = gobBox{V: box}
	}
	return []any{
		newPost(1), newFeed(), Post{}, list, tree, box,
		[]any{nil, gobBox{}, &gobInner{}, map[string]any{"a": 1, "b": "x"}},
		[3][2]int{{1, 2}, {3, 4}, {5, 6}}, [4]byte{1, 2, 3, 255},
		complex(1.5, -2), 42, -7, uint64(1 << 63), 3.25, "str", []byte("bytes"), true,
		time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), big.NewInt(-123456789),
		map[int][]string{1: {"a"}, 2: nil}, []map[string]int{{"a": 1}, {}},
		struct {
			A, B int
			C    []float64
			D    map[string]string
		}{1, 0, []float64{0, 1}, map[string]string{"": ""}},
	}
}

func TestCheckGobAcceptsValidStreams(t *testing.T) {
	t.Parallel()
	for i, v := range gobValues() {
		data, err := Gob.Marshal(v)
		if err != nil {
			t.Fatalf("value %d (%T): Marshal: %v", i, v, err)
		}
		if err := checkGob(data); err != nil {
			t.Errorf("value %d (%T): checkGob(Marshal) = %v, want nil", i, v, err)
		}
		for cut := range len(data) {
			if err := checkGob(data[:cut]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("value %d (%T): checkGob(first %d of %d bytes) = %v, want ErrCorrupt", i, v, cut, len(data), err)
			}
		}
	}
	// An interface value whose concrete type is first sent inside another
	// interface value declares the length of its first part only: gob's
	// discarding path skips by that length and misreads the rest, so such
	// streams are refused (gob's own dry run refused them before).
	for _, v := range []any{
		gobBox{V: gobBox{V: &gobInner{X: []int{1, 2}, Y: &gobInner{Y: 3.5}}}},
		map[string]any{"b": []any{"x", 2.5, Post{ID: 1}, map[string]any{"deep": []any{true}}}},
	} {
		data, _ := Gob.Marshal(v)
		if err := checkGob(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("checkGob(%T with nested new interface types) = %v, want ErrCorrupt", v, err)
		}
	}
	// A stream of two values is not one value.
	var buf bytes.Buffer
	enc := gob.NewEncoder(&buf)
	_ = enc.Encode(newPost(1))
	_ = enc.Encode(newPost(2))
	if err := checkGob(buf.Bytes()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("checkGob(two values) = %v, want ErrCorrupt", err)
	}
}
