package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Post is one post in the feed.
type Post struct {
	ID      int64     `json:"id" msgpack:"id"`
	Author  int64     `json:"author" msgpack:"author"`
	Title   string    `json:"title" msgpack:"title"`
	Body    string    `json:"body" msgpack:"body"`
	Created time.Time `json:"created" msgpack:"created"`
}

// Message is one chat message.
type Message struct {
	User string    `json:"user" msgpack:"user"`
	Text string    `json:"text" msgpack:"text"`
	At   time.Time `json:"at" msgpack:"at"`
}

// errNoPost reports an unknown post id.
var errNoPost = errors.New("feed: no such post")

// db is the slow source of truth the caches sit in front of: users who
// follow each other, their posts, chat messages and who liked what. Every
// query costs delay (the "expensive query"); queries counts them.
type db struct {
	delay   time.Duration
	queries atomic.Int64

	mu        sync.Mutex
	posts     map[int64]*Post
	byAuthor  map[int64][]int64 // post ids, oldest first
	follows   map[int64][]int64 // user → authors followed
	messages  map[string][]Message
	reactions map[int64]map[string]bool // post → users who liked it
}

// newDB seeds users 1..users, each following the next five users
// (wrapping around) and each with postsPerUser posts: user u's posts are
// ids (u-1)*postsPerUser+1 to u*postsPerUser, oldest first.
func newDB(delay time.Duration, users, postsPerUser int) *db {
	d := &db{delay: delay, posts: map[int64]*Post{}, byAuthor: map[int64][]int64{},
		follows: map[int64][]int64{}, messages: map[string][]Message{}, reactions: map[int64]map[string]bool{}}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := int64(0)
	for u := int64(1); u <= int64(users); u++ {
		for f := int64(1); f <= 5; f++ {
			d.follows[u] = append(d.follows[u], (u+f-1)%int64(users)+1)
		}
		for p := 0; p < postsPerUser; p++ {
			id++
			// Everyone posts in turn, so a feed page mixes its authors.
			at := start.Add(time.Duration(p*users+int(u)) * time.Minute)
			d.posts[id] = &Post{ID: id, Author: u, Title: fmt.Sprintf("Post %d by user %d", id, u),
				Body: "Lorem ipsum dolor sit amet.", Created: at}
			d.byAuthor[u] = append(d.byAuthor[u], id)
		}
	}
	return d
}

// wait simulates the query's cost, or returns early when ctx ends.
func (d *db) wait(ctx context.Context) error {
	d.queries.Add(1)
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Feed is the expensive query of the guide's example 3: the newest posts
// of the authors user follows, page by page (20 per page), and the
// authors that appear on the page (the page's purge tags).
func (d *db) Feed(ctx context.Context, user int64, page int) (posts []Post, authors []int64, err error) {
	if err := d.wait(ctx); err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var all []*Post
	for _, a := range d.follows[user] {
		for _, id := range d.byAuthor[a] {
			all = append(all, d.posts[id])
		}
	}
	slices.SortFunc(all, func(a, b *Post) int { return b.Created.Compare(a.Created) })
	const per = 20
	lo := min((page-1)*per, len(all))
	hi := min(lo+per, len(all))
	for _, p := range all[lo:hi] {
		posts = append(posts, *p)
		if !slices.Contains(authors, p.Author) {
			authors = append(authors, p.Author)
		}
	}
	return posts, authors, nil
}

// Post returns one post.
func (d *db) Post(ctx context.Context, id int64) (Post, error) {
	if err := d.wait(ctx); err != nil {
		return Post{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.posts[id]
	if !ok {
		return Post{}, errNoPost
	}
	return *p, nil
}

// UpdatePost changes a post's title and returns it.
func (d *db) UpdatePost(id int64, title string) (Post, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.posts[id]
	if !ok {
		return Post{}, errNoPost
	}
	p.Title = title
	return *p, nil
}

// Messages returns a conversation's newest messages, newest first.
func (d *db) Messages(ctx context.Context, conv string) ([]Message, error) {
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.messages[conv]), nil
}

// AddMessage persists one message (newest first, 50 kept).
func (d *db) AddMessage(conv string, m Message) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.messages[conv] = append([]Message{m}, d.messages[conv]...)[:min(len(d.messages[conv])+1, 50)]
}

// React records that user likes (or no longer likes) a post and reports
// whether anything changed, as Reaction.objects.get_or_create / delete.
func (d *db) React(id int64, user string, like bool) (changed bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.posts[id]; !ok {
		return false, errNoPost
	}
	r := d.reactions[id]
	if r == nil {
		r = map[string]bool{}
		d.reactions[id] = r
	}
	if r[user] == like {
		return false, nil
	}
	if like {
		r[user] = true
	} else {
		delete(r, user)
	}
	return true, nil
}

// Posts is the number of posts.
func (d *db) Posts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.posts)
}
