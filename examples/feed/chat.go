package main

import (
	"context"
	"net/http"
	"time"
	"unicode/utf8"
)

// maxMessages is how many messages a cached conversation keeps.
const maxMessages = 50

// validConv reports whether a conversation name is acceptable.
func validConv(w http.ResponseWriter, conv string) bool {
	if len(conv) > 100 || !utf8.ValidString(conv) {
		http.Error(w, "conversation: at most 100 bytes of UTF-8", http.StatusBadRequest)
		return false
	}
	return true
}

// getMessages reads a conversation through the cache.
func (a *app) getMessages(w http.ResponseWriter, r *http.Request) {
	conv := r.PathValue("conv")
	if !validConv(w, conv) {
		return
	}
	msgs, err := a.chat.Get(r.Context(), conv, func(ctx context.Context) ([]Message, error) {
		return a.db.Messages(ctx, conv)
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversation": conv, "messages": msgs})
}

// addMessage is the guide's example 1: under a lock per conversation
// (lockx: local, or Redis across processes), read the cached list, put the
// new message first, keep 50, and write it through: the database first,
// then the cache (invalidated instead if the cache write fails).
func (a *app) addMessage(w http.ResponseWriter, r *http.Request) {
	conv, text := r.PathValue("conv"), r.FormValue("text")
	if !validConv(w, conv) {
		return
	}
	if text == "" || len(text) > 1000 || !utf8.ValidString(text) {
		http.Error(w, "text: 1 to 1000 bytes of UTF-8", http.StatusBadRequest)
		return
	}
	user := a.sessions.GetString(r.Context(), "user")
	if user == "" {
		user = "anonymous"
	}
	m := Message{User: user, Text: text, At: time.Now().UTC()}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var count int
	err := a.locks.Do(ctx, "conversation:"+conv+":add_message", func(ctx context.Context) error {
		msgs, err := a.chat.Get(ctx, conv, func(ctx context.Context) ([]Message, error) { return a.db.Messages(ctx, conv) })
		if err != nil {
			return err
		}
		msgs = append([]Message{m}, msgs...)[:min(len(msgs)+1, maxMessages)]
		count = len(msgs)
		return a.chat.WriteThrough(ctx, conv, msgs, func(context.Context, []Message) error {
			a.db.AddMessage(conv, m)
			return nil
		})
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"conversation": conv, "message": m, "cached": count})
}
