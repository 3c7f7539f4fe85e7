package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/middleware"
)

// fixed is a frozen clock, so the outputs below are exact.
func fixed() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }

// Example is the package documentation's snippet: the memory backend, a
// Cache with default options, and a handler behind it.
func Example() {
	b, err := memory.New(nil)
	if err != nil {
		panic(err)
	}
	defer b.Close()
	c, err := middleware.New(b, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	})
	srv := httptest.NewServer(c.Handler(mux)) // or http.ListenAndServe(":8080", c.Handler(mux))
	defer srv.Close()
	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, _, _ := strings.Cut(resp.Header.Get("Cache-Status"), "; ttl")
		fmt.Println(string(body), status)
	}
	// Output:
	// hello cachekit; fwd=uri-miss; fwd-status=200; stored
	// hello cachekit; hit
}

func ExampleCache_Handler() {
	b, _ := memory.New(nil)
	c, _ := middleware.New(b, &middleware.Options{Now: fixed})
	defer c.Close()
	calls := 0
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	}))
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://example.com/", nil))
		fmt.Println(w.Body.String(), w.Header().Get("Cache-Status"))
	}
	fmt.Println("handler calls:", calls)
	// Output:
	// hello cachekit; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// hello cachekit; hit; ttl=60
	// hello cachekit; hit; ttl=60
	// handler calls: 1
}

func ExampleCache_PurgeTags() {
	b, _ := memory.New(nil)
	c, _ := middleware.New(b, &middleware.Options{Now: fixed})
	defer c.Close()
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", "product-42 catalog")
		io.WriteString(w, "product 42")
	}))
	get := func() string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://shop.example/p/42", nil))
		return w.Header().Get("Cache-Status")
	}
	fmt.Println(get())
	fmt.Println(get())
	_ = c.PurgeTags(context.Background(), "product-42")
	fmt.Println(get())
	// Output:
	// cachekit; fwd=uri-miss; fwd-status=200; stored; ttl=600
	// cachekit; hit; ttl=600
	// cachekit; fwd=uri-miss; fwd-status=200; stored; ttl=600
}

func ExampleOptions_allowPurge() {
	b, _ := memory.New(nil)
	c, _ := middleware.New(b, &middleware.Options{
		AllowPurge: func(r *http.Request) bool { return r.Header.Get("X-Purge-Token") == "secret" },
	})
	defer c.Close()
	h := c.Handler(http.NotFoundHandler())
	r := httptest.NewRequest("PURGE", "http://example.com/page", nil)
	r.Header.Set("X-Purge-Token", "secret")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output: 200 purged 1
}
