package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Post is the built-in sample: a blog post of about 700 bytes, like the
// values of cachekit's own codec benchmarks.
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

// Feed is a page of 20 posts.
type Feed struct {
	Posts []Post
	Next  string
}

func newPost(id int64) Post {
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

func builtinPosts() []Post {
	out := make([]Post, 20)
	for i := range out {
		out[i] = newPost(int64(i))
	}
	return out
}

func builtinFeeds() []Feed {
	var out []Feed
	for p := range 4 {
		f := Feed{Next: fmt.Sprintf("cursor-%d", (p+1)*20)}
		for i := range 20 {
			f.Posts = append(f.Posts, newPost(int64(p*20+i)))
		}
		out = append(out, f)
	}
	return out
}

// maxSampleBytes bounds one sample file, so a wrong path (a disk image, a
// log) fails fast instead of filling memory.
const maxSampleBytes = 256 << 20

// loadSamples reads JSON samples into generic values: a .json file is one
// sample (the whole document), a .ndjson or .jsonl file one sample per
// non-empty line.
func loadSamples(paths []string) ([]any, error) {
	var out []any
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, usageErrorf("--sample: %v", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxSampleBytes+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--sample %s: %w", p, err)
		}
		if len(data) > maxSampleBytes {
			return nil, usageErrorf("--sample %s: larger than %d MiB", p, maxSampleBytes>>20)
		}
		switch ext := strings.ToLower(filepath.Ext(p)); ext {
		case ".json":
			v, err := decodeOne(data)
			if err != nil {
				return nil, usageErrorf("--sample %s: %v", p, err)
			}
			out = append(out, v)
		case ".ndjson", ".jsonl":
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(nil, maxSampleBytes)
			line := 0
			for sc.Scan() {
				line++
				if len(bytes.TrimSpace(sc.Bytes())) == 0 {
					continue
				}
				v, err := decodeOne(sc.Bytes())
				if err != nil {
					return nil, usageErrorf("--sample %s:%d: %v", p, line, err)
				}
				out = append(out, v)
			}
			if err := sc.Err(); err != nil {
				return nil, usageErrorf("--sample %s: %v", p, err)
			}
		default:
			return nil, usageErrorf("--sample %s: extension %q, want .json (one sample) or .ndjson/.jsonl (one per line)", p, ext)
		}
	}
	if len(out) == 0 {
		return nil, usageErrorf("--sample: no samples in %s", strings.Join(paths, ", "))
	}
	return out, nil
}

// decodeOne decodes exactly one JSON value.
func decodeOne(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value (use .ndjson for one sample per line)")
	}
	return v, nil
}
