// Package lockx provides distributed locks over Redis (Redlock through
// github.com/go-redsync/redsync/v4) and a process-local implementation with
// the same API: TTL leases with a watchdog, fencing tokens, errors that say
// when the caller's context ended, and Redlock quorums over independent
// servers.
//
//	locker, err := lockx.New(client, nil) // client built with ContextTimeoutEnabled
//	...
//	err = locker.Do(ctx, "invoice:42", func(ctx context.Context) error {
//		// ctx is cancelled if the lock is lost
//		return work(ctx)
//	})
//
// [Locker.Lock] and [Locker.TryLock] return a [*Lock] for callers that need
// its [Lock.Token], [Lock.Extend] or [Lock.Done]. [Locker.TryAcquire] fits
// memo's one-method Locker interface, so memo can use lockx without
// importing it.
//
// [Locker.TryAcquireGet] fits memo's optional GetLocker: a grant followed
// by a read of memo's key, which memo needs right after taking its lock.
// The read rides in the grant's round trip (one pipeline: the grant's
// script, then backend/goredis's own bounded GETRANGE) only where that is
// the same thing as a separate read after the grant: a Locker over one
// server ([New] with a standalone or Sentinel failover *redis.Client) and
// a *goredis.Backend over that very client ([Locker.GetsFrom]). Over a
// Cluster or a Ring the lock and the key may live on different nodes, and
// a Redlock grant is many servers' answer; there, and with a client of
// the backend's own, the read is a call of its own after the grant.
//
// TryAcquireGet's release also says whether the lock was waited on, so
// that memo wakes the callers of other processes waiting for its value
// only when there are some. With [New] (the lock is one key), an attempt
// of TryAcquire or TryAcquireGet that is refused because another holder
// has the lock marks it, in the script that refuses it: a key next to the
// lock's ("prefix{name}:waited", the same Cluster slot) with a TTL of one
// lease, extended with the lock by the watchdog, deleted by the release, which reads and deletes it in the script
// that deletes the lock. A grant keeps a mark an earlier holder left (it
// died or lost the lock before its release): the callers it refused still
// wait, now for the new holder's value. A refusal comes while the lock is held, so it
// marks before the holder's release runs, which then sees it. Where no
// mark can be read (Redlock, [NewLocal]) and when the release fails, the
// answer is "waited". [Locker.Lock], [Locker.TryLock] and [Locker.Do]
// write no mark.
//
// # These are lease locks
//
// A lock is granted for a TTL (default 8s). While the holder runs, a
// watchdog extends the lease every TTL/3 until [Lock.Unlock], the loss of
// the lock, or [Options.MaxHold]. The lock is lost only when an extension
// finds its key gone or held by another owner, or when its validity
// ([Lock.Until]) has passed. An extension that is merely slow may take
// the rest of the lease to answer, and one that fails without an answer
// (a timeout, a connection error, too few Redlock nodes) is retried with
// backoff until then: a loaded machine or a server frozen for less than
// the lease does not cost the lock. When the lock is lost the watchdog
// stops at once — it never re-creates a lost key — and closes
// [Lock.Done], which also cancels the context of the function run by
// [Locker.Do]. Unlock stops the watchdog synchronously: no extension is
// sent after it returns.
//
// A lease is not a guarantee of exclusion. What lockx guarantees: while
// the Redis nodes behave (keep their data, do not fail over, do not evict
// lock keys) at most one holder's lease is valid at any moment, and a
// holder learns that it lost the lock no later than its next watchdog tick
// or, when the nodes do not answer, the end of its validity.
// What it cannot guarantee:
//
//   - Pauses. A holder stopped by a GC pause, a VM or container freeze, a
//     debugger or heavy swapping does not notice that its lease ran out:
//     when it resumes it can still be in the middle of a write while
//     someone else holds the lock. No lock library can prevent this; the
//     watchdog only shortens the window.
//   - Failover with asynchronous replication. A replica promoted after the
//     master granted a lock may not have the lock key, and grants it again
//     (Sentinel, Cluster). Redlock over independent masters avoids this,
//     at the cost of more servers. Until a client has followed the switch
//     it may still lock and unlock on the old master, which keeps taking
//     writes until it is demoted: a lock it granted there and that was
//     copied to the new master before then is not released by that
//     Unlock, and others wait for its TTL.
//   - Eviction. Under maxmemory, every policy but noeviction may evict
//     lock keys, which carry a TTL, and so grant a lock twice; [New] warns
//     about such a server, or refuses it with [Options.StrictEviction]
//     (see Eviction). Fence counters have a TTL too; an evicted counter
//     is reseeded from the server clock, so tokens still increase unless
//     the clock went backwards (see Fencing tokens).
//   - Restarts without persistence. A server restarted empty forgets the
//     locks it held. With one server the lock is simply gone; with Redlock
//     a restarted node no longer counts for that lock, and the next
//     extension reports [ErrLost] when fewer than a quorum still hold it.
//     Redlock's own remedy is to keep a restarted node out of service for
//     one TTL (or to run it with fsync=always persistence).
//   - Clock jumps. Leases are measured by the Redis server's clock
//     (PEXPIRE) and by the client's monotonic clock; a server clock that
//     jumps forward expires leases early.
//
// # Fencing tokens
//
// Because of the above, any resource whose safety matters must check, not
// trust, the lock. Every grant of [Locker.Lock] or [Locker.TryLock] mints
// a fencing token ([Lock.Token]), strictly larger than every earlier grant's token for the same name. The
// holder sends it with each write; the resource remembers the highest token
// it has accepted and rejects any write carrying a lower one:
//
//	// in the protected resource (a database row, a storage service):
//	UPDATE accounts SET balance = $1, fence = $2 WHERE id = $3 AND fence <= $2
//
// A holder that was paused past its lease then fails at the resource
// instead of overwriting the newer holder's work.
//
// Tokens are minted in Redis by the same Lua script that sets the lock key
// (SET NX PX plus a counter update, atomically), in a counter key that
// shares the lock key's Cluster hash slot ("prefix{name}" and
// "prefix{name}:fence"). A token is the server clock in microseconds
// (TIME), or one more than the counter when the clock has not moved past
// it. The counter keeps its value for 24 hours after the last grant that
// used it, then expires: lockx leaves no key without a TTL in Redis.
//
// The guarantee, for one name on one server: while the counter lives,
// every token is strictly greater than the one before, whatever the clock
// does. When the counter is gone, the next token is the clock, which is
// above every earlier token unless the clock went back by more than the
// time since the last grant: so a counter that expired after a day
// without grants is safe against any clock step under 24 hours, and one
// that was lost early (evicted, or a server restarted without
// persistence, or a failover to a replica that lacks it) is safe as long
// as the clock did not go backwards. The assumption behind both is that
// a token runs ahead of the clock reading at its grant only after the
// clock stepped back (the counter then carries on from the larger token)
// or when several grants fall in one microsecond.
//
// Only locks whose caller can see the token mint one: [Locker.Lock] and
// [Locker.TryLock]. [Locker.TryAcquire] (memo's lock) and [Locker.Do]
// take a plain lease — one key with a TTL, deleted on release — and
// leave no counter behind (TryAcquire's waited mark, when another process
// was refused, has a TTL too and goes with the release). Mixing them on one name is fine: tokens
// minted by Lock and TryLock still increase.
//
// With Redlock over several servers, each node has its own counter. The
// token is the largest among the nodes that granted the lock; before the
// lock is returned, lockx raises the counter of every granting node that is
// behind to that token, while the lock is still held there. A later grant
// needs a majority, which shares at least one node with this one, so it
// mints a larger token. This holds as long as a majority of the granting
// nodes keep their counters, or, for a node whose counter is gone, its
// clock is above the token (the server clocks are not a day apart and
// none went backwards); it is weaker
// than a consensus system (etcd, ZooKeeper), which is what to use when
// fencing must survive arbitrary failures.
//
// # How lockx uses redsync
//
// Over one server ([New]) there is no quorum to count: each grant,
// extension and release is one script call (EVALSHA) on the caller's
// goroutine, with the semantics described below for one node. Over
// several ([NewRedlock]) each acquisition attempt is one redsync Mutex
// (one try): redsync fans
// out to the nodes in parallel, counts the quorum and computes the
// validity after drift. lockx's pool wrapper replaces the per-node SET NX
// with the token-minting script and records each node's reply (to mint the
// token and to tell "taken" from "unreachable"). Extension and release are
// redsync's compare-value scripts (PEXPIRE and DEL only if the key still
// holds this holder's value), so a stale holder never deletes or revives a
// newer holder's lock; they run fail-fast (they return once the quorum is
// decided, so a frozen node does not hold up the watchdog or Unlock),
// while the slower nodes finish in the background. Acquisition does not
// run fail-fast, so that every node's reply is known.
//
// A failed attempt — held elsewhere, too few nodes, or the caller's
// context ended while it was in flight — is released by lockx, not by
// redsync (whose cleanup runs on the caller's context and is never sent
// once it has ended): on every node that did not refuse it, detached from
// the caller's cancellation and bounded by 1s, while the caller waits for
// it no longer than its own context. A frozen server executes the queued
// grant when it resumes, and may execute it after the release that was
// sent later on another connection; so a release that finds nothing to
// delete leaves a marker ("prefix{name}:abandoned:<value>", with the lock's
// TTL) and the grant script refuses an attempt whose marker exists. A
// release that cannot be sent at all within its 1s (the server stays
// frozen, or is unreachable) leaves a late grant to expire with its TTL.
//
// lockx adds what redsync lacks: the retry loop (exponential backoff with
// jitter; each node's reply to an attempt bounded by TTL/3, at most 500ms)
// and context errors, the watchdog, a mutex around each redsync Mutex, the
// Cluster-safe key layout, and validation (TTL ≥ [MinTTL], so a lock
// without expiry cannot be created).
//
// # Errors
//
// [ErrNotObtained] means held elsewhere; [ErrLost] means a lock this process
// held is gone; a [*QuorumError] (errors.Is [ErrQuorum]) names the nodes
// that failed when they made the difference. When the caller's context
// ends, the error satisfies errors.Is(err, context.DeadlineExceeded) or
// errors.Is(err, context.Canceled), joined with the last attempt's error.
// [Lock.Unlock] runs detached from its context's cancellation with a 1s
// timeout of its own, so an already-cancelled request context still
// releases the lock. The constructors wrap [ErrInvalidOptions] for an
// invalid [Options] field and, with [Options.StrictEviction],
// [ErrEvictionPolicy] for a server that can evict keys.
//
// # Eviction
//
// [New] and [NewRedlock] ask every server (every master of a Cluster) for
// maxmemory and maxmemory-policy. A server with a memory limit and any
// policy but noeviction (allkeys-* or volatile-*: lock keys carry a TTL,
// so volatile policies evict them too) can grant a lock twice: New logs a
// warning naming it, or fails with [Options.StrictEviction]. Without a
// memory limit nothing is evicted and nothing is logged. Managed Redis
// often refuses CONFIG GET: New then logs at debug level and goes on, as
// it does (with a warning) when a server does not answer within 1s. Run
// lock servers with noeviction, or apart from the cache.
//
// # Redis clients
//
// Clients must be built with ContextTimeoutEnabled: true; [New] and
// [NewRedlock] check it. Without it a frozen server holds a call for the
// client's ReadTimeout whatever the context says. With it, Lock with a 1s
// context against a frozen server returns in about 1s.
//
// The process-local implementation ([NewLocal]) keeps locks in a map: it
// excludes goroutines that share the Locker, with the same TTL, token,
// watchdog and error behaviour, and costs no network round trip.
package lockx
