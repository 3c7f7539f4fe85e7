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
		Reference:  "sync.Map of *Post (floor); go-redis/cache TinyLFU local cache",
		Definition: "memo's typed L1 Get of a ~650-byte Post vs the reference, alternating blocks of 256 calls"},
	{ID: "backend", Title: "Backend Get (backend/memory)", Dir: ".", Pkg: ".", Bench: "^BenchmarkBackendGetInterleaved$", Quick: "2000x", Full: "1s",
		Reference:  "otter v2, sync.Map (in-process floors)",
		Definition: "backend/memory Get hit of a 128-byte value (copied out) vs the reference, blocks of 256"},
	{ID: "redis", Title: "Redis hit (sequential)", Dir: ".", Pkg: ".", Bench: "^BenchmarkRedisHitInterleaved$", Quick: "500x", Full: "1s",
		Reference:  "raw go-redis GET + msgpack.Unmarshal (floor); go-redis/cache",
		Definition: "memo Get answered by Redis (no L1) vs the reference on one server, blocks of 16"},
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

// notMeasured lists what issue 13 asks for that no benchmark measures yet.
var notMeasured = []struct{ Workload, Missing string }{
	{"Redis hit, parallel", "no interleaved parallel Redis-hit benchmark yet"},
	{"miss path", "no miss-path benchmark (load + store) in benchmarks/ yet"},
	{"batch of 100", "no GetMulti/batch benchmark in benchmarks/ yet"},
	{"Zipf read/write mix with hit ratio", "not in benchmarks/ yet (examples/feed -load has a generator)"},
	{"L1 / Redis hit peers", "sturdyc, eko/gocache (lib/v4 + store/redis/v4), ristretto: not measured yet"},
	{"middleware over loopback", "BenchmarkLoopback exists but is not part of the report yet"},
}
