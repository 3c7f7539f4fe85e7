package main

import (
	"net/http"
)

// login stores the user in the session (kept in the cache backend by
// extra/scs, expiring with the session).
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	user := r.FormValue("user")
	if user == "" || len(user) > 64 {
		http.Error(w, "user: 1 to 64 bytes", http.StatusBadRequest)
		return
	}
	if err := a.sessions.RenewToken(r.Context()); err != nil { // no session fixation
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	a.sessions.Put(r.Context(), "user", user)
	writeJSON(w, http.StatusOK, map[string]any{"user": user})
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Destroy(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": nil})
}

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"user": a.sessions.GetString(r.Context(), "user")})
}
