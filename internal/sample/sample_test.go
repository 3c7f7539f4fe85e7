package sample

import (
	"reflect"
	"testing"
)

func TestNewPostIsDeterministic(t *testing.T) {
	if !reflect.DeepEqual(NewPost(7), NewPost(7)) {
		t.Fatal("NewPost(7) differs between calls")
	}
	if reflect.DeepEqual(NewPost(1), NewPost(2)) {
		t.Fatal("NewPost(1) equals NewPost(2)")
	}
	if got := len(NewPost(3).Body); got != 500 {
		t.Fatalf("body is %d bytes, want 500", got)
	}
}

func TestNewFeed(t *testing.T) {
	f := NewFeed(2)
	if len(f.Posts) != 20 || f.Posts[0].ID != 40 || f.Posts[19].ID != 59 || f.Next != "cursor-60" {
		t.Fatalf("NewFeed(2) = %d posts, first %d, last %d, next %q", len(f.Posts), f.Posts[0].ID, f.Posts[19].ID, f.Next)
	}
	if got := NewFeed(0).Next; got != "cursor-20" {
		t.Fatalf("NewFeed(0).Next = %q", got)
	}
}
