package main

// workload is one comparison the report runs: a `go test -bench` of an
// existing interleaved benchmark (Dir relative to the benchmarks module;
// ".." is cachekit's own module) or a cmd/herd run (HerdProcs > 0).
type workload struct {
	ID, Title  string
	Dir, Pkg   string // go test is run in Dir on Pkg
	Bench      string // -bench regexp
	Quick      string // -benchtime in -quick mode
	Full       string // -benchtime otherwise
	HerdProcs  int
	Reference  string
	Definition string
}

// workloads in the order the report runs them (the cheap, most asked-for
// first).
var workloads = []workload{
	{ID: "l1", Title: "L1 hit (in-process tier)", Dir: ".", Pkg: ".", Bench: "^BenchmarkL1HitInterleaved$", Quick: "2000x", Full: "1s",
		Reference:  "sync.Map, otter v2, ristretto v2 holding *Post (floors); sturdyc (in-memory tier); go-redis/cache TinyLFU local cache (decodes bytes on every hit)",
		Definition: "memo's typed L1 Get of a ~650-byte Post vs the reference, alternating blocks of 256 calls; every in-process reference returns a copy of the stored Post, as memo does"},
	{ID: "backend", Title: "Backend Get (backend/memory)", Dir: ".", Pkg: ".", Bench: "^BenchmarkBackendGetInterleaved$", Quick: "2000x", Full: "1s",
		Reference:  "otter v2, ristretto v2, sync.Map (in-process floors)",
		Definition: "backend/memory Get hit of a 128-byte value (copied out) vs the reference, blocks of 256"},
	{ID: "redis", Title: "Redis hit (sequential)", Dir: ".", Pkg: ".", Bench: "^BenchmarkRedisHitInterleaved$", Quick: "500x", Full: "1s",
		Reference:  "raw go-redis GET + msgpack.Unmarshal (floor); go-redis/cache (plain msgpack); eko/gocache (its msgpack Marshaler over store/redis)",
		Definition: "memo Get answered by Redis (no L1) vs the reference on one server, blocks of 16"},
	{ID: "redispar", Title: "Redis hit (parallel, 16 goroutines)", Dir: ".", Pkg: ".", Bench: "^BenchmarkRedisHitParallelInterleaved$", Quick: "60x", Full: "1s",
		Reference:  "raw go-redis GET + msgpack.Unmarshal (floor); go-redis/cache (plain msgpack); eko/gocache",
		Definition: "memo Get answered by Redis (no L1) from 16 goroutines at once over 1,024 keys vs the reference, bursts of 16x4 calls each in turn, one connection pool; ns/call is wall time per call (1/throughput)"},
	{ID: "miss", Title: "Miss path (load + store)", Dir: ".", Pkg: ".", Bench: "^BenchmarkMissInterleaved$", Quick: "40x", Full: "1s",
		Reference:  "GET (nil) + msgpack.Marshal + SET EX by hand (floor, 2 round trips); go-redis/cache Once; eko/gocache Get then Set",
		Definition: "a Get of a key never seen (loader returns at once) that loads and stores the ~650-byte Post with a 1 h TTL, memo without L1 or Locker (2 round trips) vs the reference, blocks of 16; loader calls are checked to equal the misses"},
	{ID: "misslocked", Title: "Miss path with the lockx Locker", Dir: ".", Pkg: ".", Bench: "^BenchmarkMissLockedInterleaved$", Quick: "40x", Full: "1s",
		Reference:  "go-redis/cache Once (GET, SET: 2 round trips; no cross-process lock)",
		Definition: "the miss above with memo's distributed lock: lockx over the backend's own client (GET; the lock grant with the re-check read in its round trip; the store: 3 round trips), over a client of its own (4), or no Locker; with context.Background or a 10 s deadline per call on both sides"},
	{ID: "redisctx", Title: "Redis hit with a request context", Dir: ".", Pkg: ".", Bench: "^BenchmarkRedisHitCtxInterleaved$", Quick: "500x", Full: "1s",
		Reference:  "raw go-redis GET + msgpack.Unmarshal under the same context (floor)",
		Definition: "memo Get answered by Redis (no L1) with a fresh context per call that can end: a 10 s deadline, or cancel-only (what every net/http request context is); the caller leaves when its context ends, so the read runs on a kept goroutine"},
	{ID: "batch", Title: "Batch of 100 (GetMany)", Dir: ".", Pkg: ".", Bench: "^BenchmarkBatchInterleaved$", Quick: "30x", Full: "1s",
		Reference:  "tier=redis: MGET + 100 msgpack decodes (floor); tier=l1: 100 otter lookups (floor), sturdyc GetOrFetchBatch. go-redis/cache and eko/gocache have no batch read",
		Definition: "memo GetMany of 100 hits into a map, answered by Redis (no L1; blocks of 4) or by memo's L1 (blocks of 16), vs the reference building the same map"},
	{ID: "zipf", Title: "Zipf read/write mix (hit ratio)", Dir: ".", Pkg: ".", Bench: "^BenchmarkZipfInterleaved$", Quick: "100x", Full: "1s",
		Reference:  "otter v2 (floor), ristretto v2, sturdyc; every cache bounded at 1,000 entries",
		Definition: "the same fixed-seed sequence for every library: 10,000 keys, Zipf s=1.1, 90% read-through Gets / 10% Sets, caches of 1,000 entries, in process (memo: typed L1 of 1,000 over backend/memory of 1,000), warmed with 20,000 operations, alternating blocks of 256 operations; ns/op ratio, and each library's hit ratio (reads that did not call the loader; higher is better)"},
	{ID: "lock", Title: "Lock+Unlock (uncontended)", Dir: ".", Pkg: ".", Bench: "^BenchmarkLockUnlockInterleaved$", Quick: "200x", Full: "1s",
		Reference:  "redsync v4",
		Definition: "lockx Lock+Unlock vs redsync Mutex Lock+Unlock, blocks of 8"},
	{ID: "codecs", Title: "Codecs (envelope overhead)", Dir: "..", Pkg: "./codec", Bench: "^BenchmarkEnvelopeOverhead$", Quick: "2000x", Full: "1s",
		Reference:  "the bare codec (no cachekit envelope); msgpack's own Unmarshal",
		Definition: "cachekit's enveloped encode/decode of a Post and a 20-post Feed vs the bare codec (medians of per-iteration ratios); size-env/bare is bytes"},
	{ID: "httpcache", Title: "Middleware hits (in process)", Dir: ".", Pkg: "./httpcache", Bench: "^BenchmarkInProcessRatio$", Quick: "20x", Full: "1s",
		Reference:  "no cache (the origin handler itself); souin",
		Definition: "req/s of cachekit's RFC 9111 middleware serving hits vs the handler without cache and vs souin, blocks of 256 requests (ratios of req/s: higher is better)"},
	{ID: "herd4", Title: "Herd, 4 processes", HerdProcs: 4,
		Reference:  "go-redis/cache Once (per-process singleflight)",
		Definition: "4 processes x 50 goroutines on one cold key, loader 50 ms; loader calls per trial and caller p99 (ratio: memo p99 / go-redis/cache p99)"},
	{ID: "herd16", Title: "Herd, 16 processes", HerdProcs: 16,
		Reference:  "go-redis/cache Once (per-process singleflight)",
		Definition: "16 processes x 50 goroutines on one cold key, loader 50 ms"},
	{ID: "pattern", Title: "Cluster DeletePattern (3 masters)", Dir: ".", Pkg: ".", Bench: "^BenchmarkDeletePatternInterleaved$", Quick: "3x", Full: "20x",
		Reference:  "hand-written SCAN + pipelined UNLINK per master, parallel and sequential",
		Definition: "backend/goredis DeletePattern of 3,000 keys on a 3-master Cluster vs the hand-written loop (ratios of per-call medians)"},
}

// notMeasured lists what issue 13 asks for that no benchmark measures yet,
// and the comparisons a peer has no API for.
var notMeasured = []struct{ Workload, Missing string }{
	{"middleware over loopback", "BenchmarkLoopback (httpcache/) exists but is not part of the report yet"},
	{"sturdyc on the Redis tier", "sturdyc always answers from its in-memory tier once a key is in it (its Redis \"distributed storage\" is read only on an in-memory miss, JSON-encoded), so it is compared in process only (L1 hit, batch, Zipf mix)"},
	{"go-redis/cache and eko/gocache batch reads", "neither has a multi-key read: a caller makes 100 Gets (100 round trips)"},
	{"the herd for sturdyc and eko/gocache", "cmd/herd runs memo and go-redis/cache only; sturdyc (in-flight deduplication) and eko/gocache's LoadableCache (singleflight) coalesce per process, as go-redis/cache Once does, so they would load once per process too"},
}
