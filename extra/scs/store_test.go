package cachekitstore_test

import (
	"context"
	"encoding/gob"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/backend/memory"
	cachekitstore "github.com/cachekit/cachekit/extra/scs"
	"github.com/cachekit/cachekit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// eachBackend runs f on the memory backend and on a real redis-server
// (skipped without redis-server, except under CI=true), each with a
// prefix of its own.
func eachBackend(t *testing.T, f func(t *testing.T, b backend.Backend, prefix string)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		b, err := memory.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		f(t, b, cachekitstore.DefaultPrefix)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		b, err := goredis.New(redistest.Shared(t).Client(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		f(t, b, redistest.Prefix(t))
	})
}

// TestSessionManagerRoundTrip drives a real scs.SessionManager over HTTP:
// login stores a value, later requests with the cookie see it, the key
// expires with the session, and logout (Destroy) removes it.
func TestSessionManagerRoundTrip(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend.Backend, prefix string) {
		store, err := cachekitstore.New(b, &cachekitstore.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		sm := scs.New()
		sm.Store = store
		sm.Lifetime = time.Hour
		var token string
		mux := http.NewServeMux()
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			sm.Put(r.Context(), "user", r.FormValue("user"))
		})
		mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
			token = sm.Token(r.Context())
			_, _ = io.WriteString(w, sm.GetString(r.Context(), "user"))
		})
		mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
			if err := sm.Destroy(r.Context()); err != nil {
				http.Error(w, err.Error(), 500)
			}
		})
		srv := httptest.NewServer(sm.LoadAndSave(mux))
		defer srv.Close()
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		do := func(method, path string) string {
			t.Helper()
			req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader("user=ada"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, body)
			}
			return string(body)
		}

		do("POST", "/login")
		if got := do("GET", "/me"); got != "ada" {
			t.Fatalf("GET /me after login = %q, want %q", got, "ada")
		}
		key := prefix + token
		ttl, err := backend.TTL(t.Context(), b, key)
		if err != nil {
			t.Fatalf("TTL(%q) error = %v", key, err)
		}
		if ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("TTL(%q) = %v, want the session's remaining lifetime (~1h)", key, ttl)
		}
		do("POST", "/logout")
		if _, err := b.Get(t.Context(), key); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("Get(%q) after logout error = %v, want ErrNotFound", key, err)
		}
		if got := do("GET", "/me"); got != "" {
			t.Errorf("GET /me after logout = %q, want empty", got)
		}
	})
}

// TestCommitNeverWritesWithoutExpiry: a session that is already expired
// (or about to be) is deleted, never stored; a short one disappears by
// itself.
func TestCommitNeverWritesWithoutExpiry(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend.Backend, prefix string) {
		ctx := t.Context()
		store, err := cachekitstore.New(b, &cachekitstore.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CommitCtx(ctx, "tok", []byte("v1"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, expiry := range []time.Time{time.Now().Add(-time.Second), time.Now(), {}} {
			if err := store.CommitCtx(ctx, "tok", []byte("v2"), expiry); err != nil {
				t.Fatalf("CommitCtx(expiry %v) error = %v", expiry, err)
			}
			if _, found, err := store.FindCtx(ctx, "tok"); found || err != nil {
				t.Fatalf("FindCtx after CommitCtx(expiry %v) = found %v, %v; want not found", expiry, found, err)
			}
		}

		if err := store.CommitCtx(ctx, "short", []byte("v"), time.Now().Add(50*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if ttl, err := backend.TTL(ctx, b, prefix+"short"); err != nil || ttl <= 0 || ttl > 50*time.Millisecond {
			t.Fatalf("TTL(short) = %v, %v; want in (0, 50ms]", ttl, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, found, err := store.FindCtx(ctx, "short")
			if err != nil {
				t.Fatal(err)
			}
			if !found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a session committed with a 50ms expiry is still found after 5s")
			}
			time.Sleep(10 * time.Millisecond) // polling the real expiry of a real backend
		}
	})
}

// TestTamperedTokensStayInTheirKeys: a token carrying glob or hash-tag
// characters is escaped into one key of its own and is simply not found.
func TestTamperedTokensStayInTheirKeys(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend.Backend, prefix string) {
		ctx := context.Background()
		store, _ := cachekitstore.New(b, &cachekitstore.Options{Prefix: prefix})
		secret, err := scs.GobCodec{}.Encode(time.Now().Add(time.Minute), map[string]any{"user": "ada"})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CommitCtx(ctx, "real", secret, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{"*", "rea?", "{real}", "real\x00", "", strings.Repeat("x", 4096)} {
			if v, found, err := store.FindCtx(ctx, tok); found || err != nil {
				t.Errorf("FindCtx(%q) = %q, %v, %v; want not found", tok, v, found, err)
			}
		}
		if v, found, err := store.Find("real"); !found || err != nil || string(v) != string(secret) {
			t.Errorf("Find(real) = %q, %v, %v; want the committed session", v, found, err)
		}
	})
}

// deepNode is a recursive type: gob encodes a long chain of it as a deep
// value, which encoding/gob decodes with one stack frame per level.
type deepNode struct {
	Next *deepNode
}

// TestHostileEntryIsANewSession: session bytes that scs.GobCodec would
// hand to encoding/gob unchecked (garbage, a value nested far deeper than
// codec.MaxDepth; the stack-overflow shape, kept shallow enough here not
// to kill the test) are reported as not found: the request gets a new,
// working session, the entry is left alone to expire, and Rejected counts
// it. A valid session next to it is unaffected, and AcceptAll turns the
// vetting off.
func TestHostileEntryIsANewSession(t *testing.T) {
	t.Parallel()
	gob.Register(&deepNode{})
	eachBackend(t, func(t *testing.T, b backend.Backend, prefix string) {
		ctx := t.Context()
		deep := &deepNode{}
		for range 10_000 {
			deep = &deepNode{Next: deep}
		}
		hostile, err := scs.GobCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{"x": deep})
		if err != nil {
			t.Fatal(err)
		}
		for token, value := range map[string][]byte{"deep": hostile, "garbage": []byte("\xff\x00not gob")} {
			if err := b.Set(ctx, prefix+token, value, time.Hour); err != nil {
				t.Fatal(err)
			}
		}

		store, err := cachekitstore.New(b, &cachekitstore.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		sm := scs.New()
		sm.Store = store
		mux := http.NewServeMux()
		mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "user="+sm.GetString(r.Context(), "user"))
		})
		srv := httptest.NewServer(sm.LoadAndSave(mux))
		defer srv.Close()
		for i, token := range []string{"deep", "garbage"} {
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/me", nil)
			req.AddCookie(&http.Cookie{Name: sm.Cookie.Name, Value: token})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "user=" {
				t.Errorf("GET /me with the %s session = %d %q, want 200 and a new, empty session", token, resp.StatusCode, body)
			}
			if got := store.Rejected(); got != int64(i+1) {
				t.Errorf("Rejected() = %d after %d hostile entries", got, i+1)
			}
			if _, err := b.Get(ctx, prefix+token); err != nil {
				t.Errorf("the %s entry was touched: Get error = %v, want it left to expire", token, err)
			}
		}

		// What scs.GobCodec itself writes passes.
		good, _ := scs.GobCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{"user": "ada"})
		if err := store.CommitCtx(ctx, "good", good, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, found, err := store.FindCtx(ctx, "good"); !found || err != nil {
			t.Errorf("FindCtx(good) = %v, %v; want found", found, err)
		}
		open, _ := cachekitstore.New(b, &cachekitstore.Options{Prefix: prefix, Validate: cachekitstore.AcceptAll})
		if v, found, err := open.FindCtx(ctx, "garbage"); !found || err != nil || len(v) == 0 {
			t.Errorf("AcceptAll FindCtx(garbage) = %q, %v, %v; want the stored bytes", v, found, err)
		}
	})
}
