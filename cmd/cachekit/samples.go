package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cachekit/cachekit/internal/sample"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Post and Feed are the built-in samples (a blog post of about 700 bytes
// and a page of 20), the values of cachekit's own codec tests.
type (
	Post = sample.Post
	Feed = sample.Feed
)

func builtinPosts() []Post {
	out := make([]Post, 20)
	for i := range out {
		out[i] = sample.NewPost(int64(i))
	}
	return out
}

func builtinFeeds() []Feed {
	out := make([]Feed, 4)
	for p := range out {
		out[p] = sample.NewFeed(p)
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
