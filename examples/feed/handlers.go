package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cachekit/cachekit/memo"
)

// routes is the service's HTTP API. Everything runs inside the session
// middleware (login); /feed/ also inside the HTTP cache.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /feed/{user}", a.pages.Handler(http.HandlerFunc(a.feed)))
	mux.HandleFunc("GET /posts/{id}", a.getPost)
	mux.HandleFunc("PUT /posts/{id}", a.updatePost)
	mux.HandleFunc("POST /posts/{id}/like", a.react(true))
	mux.HandleFunc("POST /posts/{id}/unlike", a.react(false))
	mux.HandleFunc("GET /posts/{id}/reactions", a.reactionCount)
	mux.HandleFunc("GET /chat/{conv}", a.getMessages)
	mux.HandleFunc("POST /chat/{conv}", a.addMessage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /me", a.me)
	mux.HandleFunc("POST /admin/clear/{namespace}", a.clearNamespace)
	mux.HandleFunc("POST /admin/invalidate", a.invalidatePrefix)
	mux.HandleFunc("POST /admin/purge", a.purgeTag)
	mux.HandleFunc("GET /debug/cache", a.debugCache)
	mux.HandleFunc("GET /debug/otel", a.debugOTel)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.prom, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", a.index)
	return a.sessions.LoadAndSave(mux)
}

// feed serves a feed page: the expensive query runs behind the HTTP
// cache, which coalesces concurrent misses (one query per page however
// many callers, across processes with Redis) and tags the page with its
// authors so that a changed post purges exactly the pages that show it.
func (a *app) feed(w http.ResponseWriter, r *http.Request) {
	user, err := strconv.ParseInt(r.PathValue("user"), 10, 64)
	if err != nil || user < 1 || user > int64(a.cfg.users) {
		http.Error(w, "no such user", http.StatusNotFound)
		return
	}
	page := 1
	if p := r.URL.Query().Get("page"); p != "" {
		if page, err = strconv.Atoi(p); err != nil || page < 1 || page > 100 {
			http.Error(w, "bad page", http.StatusBadRequest)
			return
		}
	}
	posts, authors, err := a.db.Feed(r.Context(), user, page)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	tags := "feed"
	for _, au := range authors {
		tags += fmt.Sprintf(" author-%d", au)
	}
	w.Header().Set("Cache-Control", "public, max-age=60, stale-while-revalidate=30")
	w.Header().Set("Cache-Tag", tags)
	writeJSON(w, http.StatusOK, map[string]any{"user": user, "page": page, "posts": posts})
}

// getPost is the read-through cache of the guide's examples: a miss runs
// one query per key across all callers (and processes, with the Redis
// Locker), a stale post is served while one refresh runs.
func (a *app) getPost(w http.ResponseWriter, r *http.Request) {
	id, ok := postID(w, r)
	if !ok {
		return
	}
	p, info, err := a.posts.Fetch(r.Context(), strconv.FormatInt(id, 10), func(ctx context.Context, _ *memo.Entry[Post]) (memo.Result[Post], error) {
		p, err := a.db.Post(ctx, id)
		if errors.Is(err, errNoPost) {
			return memo.Result[Post]{}, memo.ErrNotFound // cached as "not found" for NegativeTTL
		}
		return memo.Result[Post]{Value: p}, err
	})
	w.Header().Set("Cache-Status", cacheStatus(info, err))
	switch {
	case errors.Is(err, memo.ErrNotFound):
		http.Error(w, "no such post", http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

// cacheStatus renders memo's Info as an RFC 9211 Cache-Status value.
func cacheStatus(info memo.Info, err error) string {
	switch {
	case err != nil && !errors.Is(err, memo.ErrNotFound):
		return "cachekit-memo; fwd=miss; detail=error"
	case info.Source == memo.SourceLoad && info.Coalesced:
		return "cachekit-memo; fwd=miss; collapsed"
	case info.Source == memo.SourceLoad:
		return "cachekit-memo; fwd=miss"
	case info.Stale:
		return "cachekit-memo; hit; fwd=stale; detail=" + info.Source.String()
	default:
		return "cachekit-memo; hit; detail=" + info.Source.String()
	}
}

// updatePost changes a post, then invalidates the cached post and purges
// every feed page tagged with its author (on every node).
func (a *app) updatePost(w http.ResponseWriter, r *http.Request) {
	id, ok := postID(w, r)
	if !ok {
		return
	}
	title := r.FormValue("title")
	if title == "" {
		http.Error(w, "title is required", http.StatusBadRequest)
		return
	}
	p, err := a.db.UpdatePost(id, title)
	if errors.Is(err, errNoPost) {
		http.Error(w, "no such post", http.StatusNotFound)
		return
	}
	key := strconv.FormatInt(id, 10)
	tag := fmt.Sprintf("author-%d", p.Author)
	if err := errors.Join(a.posts.Invalidate(r.Context(), key), a.pages.PurgeTags(r.Context(), tag)); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"post": p, "purged_tag": tag})
}

// reactionTTL is how long a reaction counter lives after its creation.
const reactionTTL = 7 * 24 * time.Hour

// react is like/unlike as in the guide's example 2: the database records
// who likes what, and the count is an atomic counter in the cache (Redis
// INCRBY across processes), changed only when the user's reaction did.
func (a *app) react(like bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := postID(w, r)
		if !ok {
			return
		}
		user := a.sessions.GetString(r.Context(), "user")
		if user == "" { // one reaction per client address when not logged in
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			user = "anon:" + host
		}
		changed, err := a.db.React(id, user, like)
		if errors.Is(err, errNoPost) {
			http.Error(w, "no such post", http.StatusNotFound)
			return
		}
		delta := int64(0)
		if changed && like {
			delta = 1
		} else if changed {
			delta = -1
		}
		n, err := a.reactions.Incr(r.Context(), reactionKey(id), delta, reactionTTL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"post": id, "reactions": n, "changed": changed})
	}
}

func (a *app) reactionCount(w http.ResponseWriter, r *http.Request) {
	id, ok := postID(w, r)
	if !ok {
		return
	}
	n, err := a.reactions.Incr(r.Context(), reactionKey(id), 0, reactionTTL)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"post": id, "reactions": n})
}

func reactionKey(id int64) string { return "post:" + strconv.FormatInt(id, 10) }

func postID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		http.Error(w, "bad post id", http.StatusBadRequest)
		return 0, false
	}
	return id, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
