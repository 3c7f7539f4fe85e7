package main

import (
	"fmt"
	"net/http"
	"strings"
)

// The invalidation endpoints. They are operator tools: prefix
// invalidation walks the keyspace (SCAN on every master, never KEYS), so
// it does not belong on a request path; namespace clear and tag purge are
// O(1).

// clearNamespace drops a whole namespace: memo namespaces move to a new
// generation (O(1), every node); "http" purges every page of this host.
func (a *app) clearNamespace(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("namespace")
	var err error
	switch ns {
	case "posts":
		err = a.posts.Clear(r.Context())
	case "chat":
		err = a.chat.Clear(r.Context())
	case "http":
		_, err = a.pages.PurgePrefix(r.Context(), "http://"+r.Host+"/")
	default:
		http.Error(w, "namespace: posts, chat or http", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cleared": ns})
}

// invalidatePrefix deletes the keys of one namespace that start with
// prefix (posts, chat), or the pages whose path starts with prefix (http).
func (a *app) invalidatePrefix(w http.ResponseWriter, r *http.Request) {
	ns, prefix := r.FormValue("namespace"), r.FormValue("prefix")
	if len(prefix) > 200 {
		http.Error(w, "prefix too long", http.StatusBadRequest)
		return
	}
	var (
		n   int64
		err error
	)
	switch ns {
	case "posts":
		n, err = a.posts.InvalidatePrefix(r.Context(), prefix)
	case "chat":
		n, err = a.chat.InvalidatePrefix(r.Context(), prefix)
	case "http":
		if !strings.HasPrefix(prefix, "/") {
			prefix = "/" + prefix
		}
		n, err = a.pages.PurgePrefix(r.Context(), "http://"+r.Host+prefix)
	default:
		http.Error(w, "namespace: posts, chat or http", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespace": ns, "prefix": prefix, "deleted": n})
}

// purgeTag purges every page carrying a tag (for example author-3).
func (a *app) purgeTag(w http.ResponseWriter, r *http.Request) {
	tag := r.FormValue("tag")
	if tag == "" || len(tag) > 100 {
		http.Error(w, "tag: 1 to 100 bytes", http.StatusBadRequest)
		return
	}
	if err := a.pages.PurgeTags(r.Context(), tag); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"purged_tag": tag})
}

// index lists the endpoints.
func (a *app) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, usage("http://"+r.Host))
}

// usage is the start-up banner: what to try, with curl.
func usage(base string) string {
	return fmt.Sprintf(`cachekit feed example on %[1]s

  curl -si %[1]s/feed/1 | grep -i cache-status             # MISS: the feed query runs (fwd=miss)
  curl -si %[1]s/feed/1 | grep -i cache-status             # HIT
  curl -s -X PUT -d title=Edited %[1]s/posts/90             # change user 3's newest post: purges tag author-3
  curl -si %[1]s/feed/1 | grep -i cache-status             # MISS again: user 1 follows user 3
  curl -si %[1]s/posts/7 | grep -i cache-status            # memo read-through: miss, then hit
  curl -s -X POST %[1]s/posts/7/like                        # atomic counter: reactions 1
  curl -s %[1]s/posts/7/reactions
  curl -s -c /tmp/feed.jar -d user=ada %[1]s/login          # session kept in the cache (extra/scs)
  curl -s -b /tmp/feed.jar -d text=hello %[1]s/chat/general # write-through under a lock
  curl -s -X POST %[1]s/admin/clear/posts                   # namespace clear, O(1)
  curl -s -X POST -d namespace=http -d prefix=/feed/ %[1]s/admin/invalidate
  curl -s %[1]s/debug/cache                                 # live stats (open it in a browser for charts)
  curl -s %[1]s/metrics | grep '^cachekit_'                 # Prometheus (extra/prometheus)
`, base)
}
