// Package memo is cachekit's read-through engine: a typed [Cache] over any
// [backend.Backend], and [Memoize] / [MemoizeBatch] to wrap functions.
// [NewMemoized] wraps a function as a handle that also invalidates by its
// typed argument (Get, Invalidate, Peek, Key, Func); Memoize is unchanged.
//
//	users, _ := memo.New[User](b, &memo.Options{Namespace: "users", TTL: 10 * time.Minute})
//	getUser := memo.Memoize(users, db.LoadUser, nil) // func(ctx, int64) (User, error)
//	u, err := getUser(ctx, 42)
//
// # The miss path
//
// Get looks in the typed in-process L1 (when Options.L1Size > 0), then the
// backend. On a miss, callers of one key in this process share one load
// (one flight per key, which Get, Fetch and GetMany all join). With an Options.Locker, the flight takes a
// distributed lock; a process that loses it does not load but waits for
// the value to land — woken by the backend's pub/sub, with bounded polling
// as a fallback — and only after Options.LockWait loads itself (liveness
// over purity; counted as LockWaitExpired). Under the lock the flight
// re-checks the backend before it loads. So N processes × M goroutines on
// one cold key run the loader once. The store and its "value landed"
// message are one round trip, and the unlock is not waited for: a miss
// waits for four round trips (read, lock, re-check, store). Without a
// Locker it waits for two (read, store) and sends no message (only
// lock waiters listen for it); a caller whose read began before this
// process stored the value reads it again rather than loading it twice.
//
// The re-check can ride in the lock's round trip: when Options.Locker is a
// [GetLocker] whose GetsFrom holds for the Cache's backend, the grant
// brings the re-check's read (made after the grant, classified exactly as
// a separate re-check's: stale, corrupt, oversized, errors and the
// breaker alike), and a locked miss waits for three round trips. The
// lockx Locker is one when it runs over one Redis server (lockx.New with
// a standalone or Sentinel failover *redis.Client) and the backend is
// backend/goredis over that very client: give both the same client.
// Over a Cluster or a Ring (the lock key and the data key may live on
// different nodes), with Redlock, with a client of the lock's own, or
// while the breaker has seen a failure, the re-check is a read of its own.
//
// A GetLocker's release also says whether another process was refused the
// lock while it was held (lockx marks the lock in the script that refuses
// the attempt). A flight holding such a lock stores without the "value
// landed" message and publishes it after the release (which it does not
// wait for) only if the lock was waited on, or if the release failed: an
// uncontended miss wakes no process, where every store's message wakes
// the subscriber of every process. A waiter that is not woken all the
// same (its mark was lost) still polls every Options.PollInterval. Under a plain Locker the store
// carries the message, whether anyone waits or not.
//
// # Contexts and panics
//
// The load runs on context.WithoutCancel of the first caller's context plus
// Options.LoadTimeout: the first caller giving up does not fail the others.
// Every caller waits on its own context and leaves when it ends. A panic in
// the loader becomes a *[PanicError] (wrapping [ErrLoaderPanic], with the
// stack) for every waiter; nothing is cached and the process survives.
//
// # Stale-set protection
//
// A value loaded before an [Cache.Invalidate] or [Cache.Set] of its key is
// never stored after it. Invalidate writes a short-lived tombstone; a load
// stores with compare-and-swap against what it saw before loading
// (backend.FingerprintSwapper: the length and last 8 bytes of the entry,
// which end with the envelope's CRC-32C, so the old value never crosses
// the wire; backend.Swapper as a fallback), so any write in between — a
// tombstone, a Set, another load — makes the store a no-op (counted as
// StoresSkipped). This holds across processes because the comparison
// happens in the backend. On a
// backend without compare-and-swap, loads store with a plain Set and the
// guarantee is lost (backend/memory and backend/goredis both have it).
//
// # Eviction (maxmemory-policy)
//
// Under a Redis memory limit, every policy but noeviction may delete memo's
// keys before they expire. What each kind of key losing means:
//
//   - A value: a miss and a reload. Always safe.
//   - A tombstone (allkeys-*, and volatile-* since tombstones have a TTL;
//     they live at least TTL so volatile-ttl does not take them before
//     values): the compare-and-swap of a load that overlapped the
//     Invalidate finds the key absent and would succeed. A node never
//     stores a load that overlapped an invalidation it made or heard of
//     through pub/sub, whatever Redis holds; what remains is another
//     node's load that stores before the invalidation message reaches it
//     (normally a millisecond), or any load while its pub/sub is down.
//   - The generation key (allkeys-*, and volatile-* since it has a long
//     TTL — 30 days or 10×TTL, pushed back hourly while in use, the
//     longest of memo's keys so volatile-ttl takes it last): a node that finds
//     it missing creates a new random generation (the first one wins,
//     compare-and-swap on absence) and never goes back to an older one,
//     so a Clear is never undone; the cache is cold afterwards. A node
//     keeps its L1 through such a change (it holds nothing older than the
//     newest generation it knew).
//
// With noeviction (or no maxmemory) every guarantee above holds; a full
// server refuses writes instead, which memo treats as a backend failure
// (values are loaded and not stored).
//
// # Freshness
//
// Values are fresh for TTL (jittered ±10% by default so keys loaded
// together do not expire together), then stale for StaleTTL: a stale value
// is returned at once and refreshed once in the background
// (stale-while-revalidate). With Beta > 0, a fresh value is refreshed early
// with the XFetch rule now − δ·β·ln(rand) ≥ expiry, where δ is the load time
// measured and kept in the stored envelope. A loader's [ErrNotFound] is
// cached for NegativeTTL, and so is any error Options.NotFound accepts (for
// example sql.ErrNoRows; callers then get ErrNotFound); other errors are
// never cached.
//
// # Two tiers across nodes
//
// When the backend supports pub/sub, Set, Invalidate and Clear on one node
// evict the L1 entries of every node. Messages can be lost (a reconnect, a
// slow subscriber): the backend then reports a gap and the L1 is flushed.
// L1TTL caps how long any L1 entry is served in any case.
//
// # Clear
//
// Keys are "<namespace>:v<version>:<generation>:<key>" (user keys escaped,
// over-long keys hashed). Clear moves the namespace to a new random
// generation — one write, O(1) — so old keys are never read again and
// expire by their TTL. Other nodes learn the generation through pub/sub,
// or by re-reading it at most a second later. Like every key memo writes,
// the generation key expires (after 30 days, or 10×TTL when longer); each
// node re-reading it pushes its expiry back at most once an hour, so it
// lasts while the namespace is in use, and an expired one is replaced by a
// new generation (a cold cache, never an older one).
//
// # Failures
//
// Backend errors and slowness never fail a Get that can load: every backend
// call is bounded by BackendTimeout, and a caller with a deadline waits for
// the backend read at most half of what remains of its budget (its fair
// share; the other half is for the load), on its own context, before it
// loads. Failures count toward a circuit breaker that then skips the
// backend (probing to recover after BreakerCooldown), and the loaded value
// is returned. Misses are not failures. MaxConcurrentLoads bounds the load
// on the origin while the backend is down, and a value the backend could
// not take is kept on the node for L1TTL (in the L1, or without one in a
// holding area of 1024 entries), so an outage costs one load per key, not
// one per Get. Corrupt stored bytes are a miss and are overwritten. Every
// event is counted in [Cache.Stats] and reported to Options.Observer.
//
// With Options.FailClosed, an unavailable backend is an error instead:
// [ErrBackendUnavailable] within the same budget, and the loader is not
// called.
//
// # Writes
//
// Set, Put, Invalidate and Clear run as one budget (the caller's context,
// and at most BackendTimeout for the backend write and the message to other
// nodes together), and are sent even while the breaker is open: the write
// is then its probe. Once one returns nil, no Get that starts afterwards on
// the same node returns an older value, with or without pub/sub. Other
// nodes follow when the message reaches them, or after at most L1TTL. When
// a write returns an error, the key may or may not have changed in the
// backend; retry to be sure.
//
// # Looking without loading
//
// [Cache.Peek] returns what Get would serve now (L1, then the backend)
// without a loader, a lock, a refresh or an L1 fill. A stale value within
// its stale-while-revalidate window is found; a cached not-found, an
// invalidated or expired key is not found (nil error); a backend failure
// is an error (the state is unknown).
//
// # Counters
//
// [NewCounter] and [Cache.Counter] give a typed, namespaced int64 counter
// (Get, Incr, Decr, Reset, TTL) on the backend's counter capability. A
// counter key always expires: its TTL (default [DefaultCounterTTL]) starts
// when it is created and later changes keep it; backend.NoExpiry is
// refused. A lost reply wraps backend.ErrOutcomeUnknown and is not retried.
//
// # Key expiry
//
// [Cache.TTL] and [Cache.Expire] read and set the backend life of a cached
// key (its hard expiry, stale windows included; freshness is unchanged)
// through the backend's Expirer capability (else errors.ErrUnsupported).
// A cache never leaves a key without expiry: [Cache.Persist] and
// Expire(backend.NoExpiry) are refused with [ErrNoExpiry].
package memo
