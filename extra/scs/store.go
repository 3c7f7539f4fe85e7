// Package cachekitstore is a session store for github.com/alexedwards/scs/v2
// on any cachekit backend: the embedded memory backend in one process, or
// Redis (standalone, Sentinel, Cluster) through backend/goredis. It is the
// Go counterpart of keeping Django sessions in the cache, and lives in its
// own module (github.com/cachekit/cachekit/extra/scs) so the core does not
// depend on scs.
//
// Every session key expires with its session: Commit stores with a TTL
// equal to the time left until the session's expiry, and deletes the key
// instead when that time has already passed, so no session key is ever
// stored without expiry.
//
// Stored bytes are vetted before scs decodes them: scs.GobCodec (scs's
// default) hands them to encoding/gob, which has no depth bound, so one
// hostile entry in a shared Redis (a deep value of a recursive type fits
// in a few kilobytes) would overflow the stack and kill the process.
// FindCtx runs [Options.Validate] (by default [codec.CheckGob], the walk
// cachekit's own gob codec does first) and reports an entry that fails it
// as not found: scs starts a new session, the entry is left to expire, and
// [Store.Rejected] counts it. With an scs.Codec other than gob, set
// Validate to its own check, or to [AcceptAll].
//
//	store, _ := cachekitstore.New(b, nil)
//	sessions := scs.New()
//	sessions.Store = store
package cachekitstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// DefaultPrefix is the default [Options.Prefix].
const DefaultPrefix = "scs:session:"

// Options configures a [Store]. A nil *Options means all defaults.
type Options struct {
	// Prefix starts every session key. Default [DefaultPrefix].
	Prefix string
	// Now is the clock used to turn an expiry into a TTL. Default time.Now.
	Now func() time.Time
	// Validate vets stored session bytes before scs decodes them; an entry
	// it rejects is reported as not found. Default [codec.CheckGob], for
	// scs.GobCodec (scs's default Codec). With another scs.Codec, set your
	// own check or [AcceptAll] (which turns vetting off).
	Validate func([]byte) error
}

// AcceptAll is an [Options.Validate] that accepts every entry: it turns
// vetting off, for an scs.Codec whose decoder is safe on any input.
func AcceptAll([]byte) error { return nil }

// Store keeps scs sessions in a cachekit backend. It implements
// scs.CtxStore (and scs.Store) and is safe for concurrent use.
type Store struct {
	b        backend.Backend
	prefix   string
	now      func() time.Time
	validate func([]byte) error
	rejected atomic.Int64
}

var _ scs.CtxStore = (*Store)(nil)

// New returns a Store on b (required); opts may be nil.
func New(b backend.Backend, opts *Options) (*Store, error) {
	if b == nil {
		return nil, errors.New("cachekitstore: nil backend")
	}
	s := &Store{b: b, prefix: DefaultPrefix, now: time.Now, validate: codec.CheckGob}
	if opts != nil {
		if opts.Prefix != "" {
			s.prefix = opts.Prefix
		}
		if opts.Now != nil {
			s.now = opts.Now
		}
		if opts.Validate != nil {
			s.validate = opts.Validate
		}
	}
	return s, nil
}

// key is the backend key of a session token. The token is escaped, so a
// tampered token cannot reach another key or inject a Cluster hash tag.
func (s *Store) key(token string) string { return s.prefix + backend.EscapeKeyPart(token) }

// FindCtx returns the session data for token. An unknown or expired token
// is found=false with a nil error, and so is an entry [Options.Validate]
// rejects (counted in [Store.Rejected]; the entry is left to expire); err
// reports backend failures only.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, err := s.b.Get(ctx, s.key(token))
	if errors.Is(err, backend.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cachekitstore: find: %w", err)
	}
	if s.validate(b) != nil {
		s.rejected.Add(1)
		return nil, false, nil
	}
	return b, true, nil
}

// Rejected is how many stored entries [Options.Validate] has refused
// since the Store was made: corrupt or hostile session bytes, or a
// Validate that does not match the manager's scs.Codec.
func (s *Store) Rejected() int64 { return s.rejected.Load() }

// CommitCtx stores the session data for token until expiry. A session
// whose expiry is less than a millisecond away (or past) is deleted
// instead, so that a key without a positive TTL is never written.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ttl := expiry.Sub(s.now())
	if ttl < time.Millisecond {
		return s.DeleteCtx(ctx, token)
	}
	if err := s.b.Set(ctx, s.key(token), b, ttl); err != nil {
		return fmt.Errorf("cachekitstore: commit: %w", err)
	}
	return nil
}

// DeleteCtx removes the session for token; deleting an unknown token is
// not an error.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	if err := s.b.Delete(ctx, s.key(token)); err != nil {
		return fmt.Errorf("cachekitstore: delete: %w", err)
	}
	return nil
}

// Find is FindCtx with context.Background (scs calls FindCtx).
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx with context.Background (scs calls CommitCtx).
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx with context.Background (scs calls DeleteCtx).
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
