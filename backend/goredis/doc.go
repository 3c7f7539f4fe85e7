// Package goredis is the Redis [backend.Backend] of cachekit, over a
// go-redis v9 client: a standalone *redis.Client, a Sentinel failover
// client (redis.NewFailoverClient), a *redis.ClusterClient or a
// *redis.Ring. It implements every optional capability of package backend
// (Batcher, Pipeliner, Counter, Expirer, Scanner, Swapper, PubSub) and
// adds monitoring helpers (Ping, Info, MemoryStats, KeyCount).
//
// # Client requirements
//
// A context deadline bounds a go-redis socket read only when the client
// is built with ContextTimeoutEnabled: true; without it a 100 ms deadline
// against a frozen server returns after the 5 s ReadTimeout. [New]
// therefore rejects a client without it ([ErrContextTimeoutDisabled])
// unless [Options.AllowContextTimeoutDisabled] is set, and [Dial] builds
// its client with the flag forced on. Errors caused by the end of the
// context satisfy errors.Is(err, context.DeadlineExceeded) (or
// context.Canceled), even when go-redis reports a socket timeout.
//
// # Non-idempotent commands
//
// go-redis re-sends a command after a read timeout or a broken
// connection (MaxRetries, default 3), when the command may already have
// run: one INCR whose reply was late became 4. The Backend marks Incr and
// CompareAndSwap as not retryable (go-redis' Cmder.NoRetry), so they are
// sent at most once whatever the client's MaxRetries; idempotent commands
// (GET, SET, UNLINK, PEXPIRE, SCAN, PUBLISH) keep the client's retries.
// When the reply of a non-idempotent command is lost, the error wraps
// [backend.ErrOutcomeUnknown] together with the cause: the command may or
// may not have been applied.
//
// # Cluster and Ring
//
// Multi-key operations never fail with CROSSSLOT: GetMany sends one MGET
// per hash slot and SetMany one SET per key, in one pipeline (go-redis
// splits it by node), Delete sends one UNLINK per hash slot. Scan and DeletePattern run SCAN on every
// master (a plain ClusterClient.Scan sees a single node), up to 8 masters
// at a time, with COUNT [Options.ScanCount], one page in memory per
// master, and never use KEYS or FLUSHDB; KEYS exists only as
// [Backend.KeysDevOnly]. On a Cluster, DeletePattern deletes each master
// with one script call per page, on that master's node client (not the
// cluster pipeline): the script runs the page's SCAN and then one UNLINK
// per key (keys sharing a {hash tag} go in one UNLINK, at most 256 keys),
// so the keys never cross the network: one round trip per page, and the
// client parses a count instead of a SCAN reply and a reply per key. It
// needs Redis 7.0 script flags (allow-cross-slot-keys, allow-oom); a
// master that refuses the script (an ACL, an older server, any error
// reply) is walked again from the start with SCAN and UNLINK commands,
// the UNLINKs of each page in the same round trip as the next SCAN. The
// trade: measured on 3,000 keys over 3 masters, the masters spend about
// 15% more CPU than on the same UNLINKs sent as commands (each
// redis.pcall does a little more than a pipelined command) and each is
// busy for one page (ScanCount keys, at most 1,000) at a time, while the
// client spends about a third of its CPU and allocations fall from three
// per key to a few per page. Elsewhere (standalone, Ring) each page is deleted with
// UNLINKs of up to ScanCount keys in the round trip of the next SCAN.
// Keys a master redirects (MOVED, ASK, TRYAGAIN, or refused inside the
// script) are deleted again one by one through the cluster client.
//
// # Slot migrations (Cluster)
//
// SCAN runs per node, so a key that moves from a master not yet scanned to
// one already scanned would be missed without an error. Scan and
// DeletePattern therefore read each master's own view of its slots
// (CLUSTER NODES, in the same round trips as its first and last SCAN, or
// inside the last page's script);
// the slots that changed owner, were being migrated or imported, whose
// UNLINK a master redirected, or that no view owned although CLUSTER
// SLOTS says they are served (a slot that moved from a master not yet
// walked to one already walked) are then rescanned, one master at a time,
// each migration's source before its target, keeping only keys of those
// slots. The rescan counts when no master's view of those slots changed
// from the end of the previous pass to the end of the rescan (a migration
// that is in progress but not moving on is fine); otherwise it is
// repeated, up to 3 times, and then the call fails with an error wrapping
// [backend.ErrIncomplete] that says how many keys were deleted (or
// reported) — it never returns nil while keys may have been missed. So
// does a migration to a node the client does not know yet.
//
// During a half-finished migration a multi-key UNLINK of the slot's keys
// answers TRYAGAIN (go-redis would retry it four times and fail): Delete
// and DeletePattern send such an UNLINK once and, if it fails, delete its
// keys with single-key UNLINKs, which follow ASK to the importing node. Build keys and
// patterns from user input with [backend.EscapeKeyPart], so a user part
// cannot choose the key's slot with a {hash tag} or widen a pattern with a
// glob character. PUBLISH reaches subscribers on every Cluster node; on a
// Ring it is sent to every shard.
//
// # Demoted primaries (READONLY)
//
// A primary demoted to a replica (a Sentinel failover, a REPLICAOF)
// answers every write with READONLY; go-redis treats that like a timeout
// and re-sends the command MaxRetries times (4 sends by default) on
// connections to the same server, and a pipeline whose first command was
// refused is re-sent whole as many times. On a standalone or Sentinel
// failover client and on a Ring, [New] installs a hook that retries a
// READONLY reply once — go-redis has dropped the connection that answered
// it, and a failover client asks Sentinel for the current primary when it
// dials — and then returns an error wrapping [ErrReadOnly] and the
// server's reply. In a pipeline (Pipeline, SetMany, the caller's own)
// only the commands refused READONLY are sent again, once, and then
// fail with ErrReadOnly; the others keep their replies. READONLY means the
// command did not run, so the one retry is safe even for Incr and
// CompareAndSwap. Reads a replica serves (GET, GETRANGE, EXISTS, MGET,
// PTTL, SCAN, …) and transactions pass through the hook untouched, with no
// allocation; a write pays one allocation.
//
// A ClusterClient gets no hook: a demoted Cluster master answers a write
// with MOVED to its replacement, not READONLY, and go-redis follows it and
// reloads its slot map (tested with CLUSTER FAILOVER under a stream of
// writes: none failed or was lost). Any READONLY reply that reaches the
// Backend, on any client, is reported wrapping ErrReadOnly.
//
// # Expiry
//
// TTLs have millisecond precision (SET PX, PEXPIRE, PTTL); every TTL is
// rounded up to a whole millisecond ([backend.RoundTTL]: 500µs is stored as
// 1ms), exactly as the memory backend rounds it. A TTL ≤ 0 is rejected
// with [backend.ErrInvalidTTL] before any I/O; [backend.NoExpiry] stores a
// key without expiry.
//
// # Value size
//
// [Options.MaxValueBytes] (default [backend.DefaultMaxValueBytes], 4 MiB;
// at most Redis' 512 MiB) bounds every value. A write over it (Set,
// SetMany, CompareAndSwap, a pipeline Set) fails with
// [backend.ErrTooLarge] before any network I/O. A read never reads or
// allocates more than MaxValueBytes+1 bytes of a value, whatever another
// client stored, and a value over the bound is a miss whose error wraps
// both [backend.ErrNotFound] and [backend.ErrTooLarge], counted by
// [Backend.OversizedReads]. Get and a pipeline Get send GETRANGE key 0
// MaxValueBytes with EXISTS key in one round trip (a server cost close to
// a GET's), so the server never sends more; only an empty value costs a
// second round trip (a Lua script that checks STRLEN), since GETRANGE
// answers an empty string for a missing key too.
//
// GetMany sends one MGET per group of keys ([Options.ScanCount] keys; one
// hash slot on a Cluster) in one round trip, at the server cost of a MGET
// (GETRANGE per key and EXISTS per group cost the server 2.9 times as
// much, 86 against 30 µs of CPU for 100 values of 700 bytes; a Lua
// script that bounds each value 8 to 13 times). Its reply is parsed as it
// streams in (go-redis' RawWriteToCmd): each value's length is read before
// its bytes, and a length over the bound stops the read there — the
// connection is closed with the value unread, so the process reads at most
// its buffer of it — and the batch is read again with a bounded GETRANGE
// per key (and a multi-key EXISTS per group, which tells missing keys
// from empty values). The server, which had started sending that value,
// copies it into the connection's output buffer first (Redis 7 does for
// any GET of it); the Backend remembers the last 256 keys found oversized
// and reads a batch holding one of them with GETRANGE at once, until a
// bounded read finds the key within the bound again. An error reply
// (MOVED, ASK, TRYAGAIN during a slot migration) or a failed connection
// (the MGET is not re-sent by go-redis) also sends the batch to the
// bounded read, which follows redirections and retries as every other
// read does. MGET answers nil for a key holding another type than a
// string, so GetMany reads such a key as missing.
//
// # Bad input
//
// Checked before any I/O: an empty key is [backend.ErrInvalidKey]; a TTL
// ≤ 0 [backend.ErrInvalidTTL]; a value over MaxValueBytes
// [backend.ErrTooLarge]; a pattern that is empty, too long, has too many
// '*', or is malformed (an unclosed '[', a trailing lone '\') is
// [backend.ErrInvalidPattern] and no SCAN is sent (see
// [backend.CheckPattern]). An Incr on a non-integer is
// [backend.ErrNotInteger], past int64 [backend.ErrOverflow].
//
// # Pipelines
//
// [Backend.Pipeline] sends mixed operations in one go-redis pipeline, one
// round trip per node (go-redis groups commands by node on a Cluster or
// Ring and follows MOVED/ASK). A node's batch that holds an Incr is marked
// NoRetry, so it is sent at most once; when a reply is lost, the Incr's
// result (and a write's) wraps [backend.ErrOutcomeUnknown]. Batches of
// idempotent operations keep the client's retries.
//
// # Subscriptions
//
// A subscription has its own receive goroutine and a bounded buffer
// ([Options.SubscriptionBuffer]). A slow consumer loses messages and is
// then sent a gap notice; so is every subscriber when the connection
// breaks, when go-redis has reconnected and re-subscribed, and when the
// server stops answering health-check PINGs. Receivers that keep derived
// state (an L1 cache) must resynchronise on a gap.
package goredis
