package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cachekit/cachekit/codec"
)

func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="set-cookie", private`, "s-maxage=abc, max-age=99999999999999999999", `x="a,b", public`, ",,=,", "max-stale"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseDirectives([]string{s})
		if d.maxAge < -1 || d.maxAge > maxDelta || d.sMaxAge > maxDelta {
			t.Fatalf("parseDirectives(%q) = %+v", s, d)
		}
	})
}

func FuzzVary(f *testing.F) {
	for _, s := range []string{"Accept-Encoding", "*", "accept, accept, Cookie", " , x y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		names, _ := parseVary([]string{s})
		for i := 1; i < len(names); i++ {
			if names[i-1] >= names[i] {
				t.Fatalf("parseVary(%q) = %q: not sorted and unique", s, names)
			}
		}
		variantKey("k", 1, names, []string{"br", "gzip", "identity"}, http.Header{"Accept-Encoding": {s}})
	})
}

func FuzzAgeExpires(f *testing.F) {
	for _, s := range []string{"0", "Thu, 01 Jan 1970 00:00:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "-1", "99999999999999999999, 3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a, ok := parseAge([]string{s}); ok && (a < 0 || a > maxDelta*time.Second) {
			t.Fatalf("parseAge(%q) = %v", s, a)
		}
		if _, present, _ := parseExpires([]string{s}); !present {
			t.Fatalf("parseExpires(%q) not present", s)
		}
		c := &Cache{o: Options{Heuristic: 0.1, MaxHeuristic: time.Hour}}
		now := time.Now()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		p := c.decide(r, 200, http.Header{"Expires": {s}, "Age": {s}, "Date": {s}, "Last-Modified": {s}, "Cache-Control": {s}}, now, now)
		if p.lifetime < 0 || p.initialAge < 0 {
			t.Fatalf("decide(%q) = %+v", s, p)
		}
	})
}

// FuzzDecodeEntry: stored bytes, however corrupt, decode to an error or a
// valid entry that can be written without panicking.
func FuzzDecodeEntry(f *testing.F) {
	e := &entry{Status: 200, Header: http.Header{"Etag": {`"x"`}}, Body: []byte("hi"), Tags: []string{"a"}, TagGens: []uint64{1}}
	data, err := codec.Encode(codec.Default, e, codec.Meta{CreatedAt: time.Now()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	idx, _ := codec.Encode(codec.Default, &entry{Index: true, Vary: []string{"Accept"}, Gen: 3}, codec.Meta{})
	f.Add(idx)
	c := &Cache{o: Options{Name: "t", TagHeader: "Cache-Tag", Now: time.Now}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e *entry
		if _, err := codec.Decode(data, &e); err != nil || !e.valid() || e.Index {
			return
		}
		w := httptest.NewRecorder()
		c.write(w, httptest.NewRequest(http.MethodGet, "/", nil), e, "t; hit", true)
	})
}
