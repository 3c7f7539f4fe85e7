// Package sample holds the realistic values cachekit's codec tests and the
// cachekit command's built-in codec report share: a blog post of about 700
// bytes and a page of 20 of them.
package sample

import (
	"strings"
	"time"
)

// Post is a realistic cached value: a ~500-byte body, five tags, a time
// and a three-entry map.
type Post struct {
	ID        int64
	Author    string
	Title     string
	Body      string
	Tags      []string
	CreatedAt time.Time
	Likes     int64
	Meta      map[string]string
}

// Feed is a page of posts with a cursor to the next one.
type Feed struct {
	Posts []Post
	Next  string
}

// NewPost returns the post with the given id; the same id always gives an
// equal post.
func NewPost(id int64) Post {
	return Post{
		ID:     id,
		Author: "ada.lovelace",
		Title:  "Notes on the Analytical Engine, part " + strings.Repeat("I", int(id%5)+1),
		Body: strings.Repeat("The Analytical Engine weaves algebraical patterns just as "+
			"the Jacquard loom weaves flowers and leaves. ", 5)[:500],
		Tags:      []string{"history", "computing", "engines", "math", "notes"},
		CreatedAt: time.Date(2024, 3, 14, 15, 9, 26, 535897932, time.UTC),
		Likes:     31415 + id,
		Meta:      map[string]string{"lang": "en", "source": "archive", "license": "cc-by"},
	}
}

// NewFeed returns page page (from 0) of 20 posts, numbered from page*20.
func NewFeed(page int) Feed {
	f := Feed{Next: "cursor-" + itoa((page+1)*20)}
	for i := range 20 {
		f.Posts = append(f.Posts, NewPost(int64(page*20+i)))
	}
	return f
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
