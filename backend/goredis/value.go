package goredis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// maxRedisString is the largest string Redis stores (proto-max-bulk-len).
const maxRedisString = 512 << 20

// checkedGetScript returns the value of KEYS[1] if it is at most ARGV[1]
// bytes, its length (an integer) if it is longer, or nil if it does not
// exist. It is the slow path of a bounded read: one atomic step, which
// never sends an oversized value.
var checkedGetScript = newScript(`
local n = redis.call('STRLEN', KEYS[1])
if n > tonumber(ARGV[1]) then return n end
return redis.call('GET', KEYS[1])`, true)

// boundedRead is one key's bounded read, queued in a pipeline: GETRANGE
// key 0 max (at most max+1 bytes, whatever is stored) and EXISTS key,
// which tells a missing key from an empty value. Both cost the server what
// a GET costs and travel in the same round trip as any other command of
// the pipeline.
type boundedRead struct {
	key    string
	rng    *redis.StringCmd
	exists *redis.IntCmd
}

func (b *Backend) queueBoundedRead(ctx context.Context, pipe redis.Pipeliner, key string) boundedRead {
	r := boundedRead{key: key, rng: redis.NewStringCmd(ctx, "getrange", key, 0, b.maxArg), exists: redis.NewIntCmd(ctx, "exists", key)}
	_ = pipe.Process(ctx, r.rng)
	_ = pipe.Process(ctx, r.exists)
	return r
}

// result interprets the replies of r: the value, an error wrapping
// backend.ErrNotFound for a miss (and also backend.ErrTooLarge for a
// value over max), or another error. A bounded read never allocates more
// than max+1 bytes for the value.
//
// An empty GETRANGE reply from an existing key is either an empty value or
// a key created between the two commands (GETRANGE saw it missing); only
// then is the key read again, with the atomic checkedGetScript.
func (b *Backend) result(ctx context.Context, r boundedRead) ([]byte, error) {
	v, err := r.rng.Bytes()
	if err != nil {
		return nil, b.fail(ctx, "GETRANGE", r.key, err)
	}
	if len(v) > b.opt.MaxValueBytes {
		return nil, b.oversized(r.key, len(v))
	}
	if len(v) > 0 {
		return v, nil
	}
	n, err := r.exists.Result()
	if err != nil {
		return nil, b.fail(ctx, "EXISTS", r.key, err)
	}
	if n == 0 {
		return nil, backend.ErrNotFound
	}
	return b.checkedGet(ctx, r.key)
}

// getManyBounded fills out with the values of keys read by bounded reads
// in one pipeline.
func (b *Backend) getManyBounded(ctx context.Context, keys []string, out [][]byte) error {
	pipe := b.c.Pipeline()
	reads := make([]boundedRead, len(keys))
	for i, k := range keys {
		reads[i] = b.queueBoundedRead(ctx, pipe, k)
	}
	_, _ = pipe.Exec(ctx) // errors are per command
	for i, r := range reads {
		v, err := b.result(ctx, r)
		if err := setFound(out, i, v, err); err != nil {
			return err
		}
	}
	return nil
}

// setFound puts the outcome of one key's read in out[i], as GetMany
// reports it: the value (a non-nil empty slice for an empty value), or
// nil for a miss (an error wrapping backend.ErrNotFound). Any other error
// is returned.
func setFound(out [][]byte, i int, v []byte, err error) error {
	switch {
	case err == nil:
		if v == nil {
			v = []byte{}
		}
		out[i] = v
	case !errors.Is(err, backend.ErrNotFound):
		return err
	}
	return nil
}

// checkedGet reads key with checkedGetScript.
func (b *Backend) checkedGet(ctx context.Context, key string) ([]byte, error) {
	reply, err := checkedGetScript.run(ctx, b.c, key, b.opt.MaxValueBytes)
	return b.checked(ctx, key, reply, err)
}

// checked interprets the reply of checkedGetScript for key.
func (b *Backend) checked(ctx context.Context, key string, reply any, err error) ([]byte, error) {
	if err != nil {
		return nil, b.fail(ctx, "GET", key, err)
	}
	switch v := reply.(type) {
	case string:
		return []byte(v), nil
	case int64:
		return nil, b.oversized(key, int(v))
	}
	return nil, fmt.Errorf("goredis: GET %q: unexpected reply %T", key, reply)
}

// oversized counts and reports a read of a value over MaxValueBytes,
// written by someone else (the Backend never writes one): a miss, so a
// read-through cache loads and overwrites it.
func (b *Backend) oversized(key string, n int) error {
	b.oversizedReads.Add(1)
	return fmt.Errorf("goredis: GET %q: %w: %w: the stored value has at least %d bytes (MaxValueBytes %d)",
		key, backend.ErrNotFound, backend.ErrTooLarge, n, b.opt.MaxValueBytes)
}

// OversizedReads returns how many reads found a value over
// [Options.MaxValueBytes] (written by another client) and reported a
// miss instead.
func (b *Backend) OversizedReads() int64 { return b.oversizedReads.Load() }

// getManyRanged fills out with the values of keys read by one GETRANGE key
// 0 MaxValueBytes per key (at most MaxValueBytes+1 bytes each, whatever is
// stored) and one multi-key EXISTS per group of keys (a hash slot on a
// Cluster, ScanCount keys otherwise), all in one pipeline: one round trip,
// which the server never answers with more than MaxValueBytes+1 bytes of a
// value. It is GetMany's bounded read, used when the streamed MGET
// (getManyStreamed) could not read a batch: it costs the server about 2.9
// times what one MGET costs (a Lua script that bounds
// the values cost 8x a MGET on the server, measured: every value becomes a
// Lua string). It remembers the keys it finds oversized (bigKeys) and
// forgets those it finds within the bound.
//
// GETRANGE answers an empty string for a missing key as for an empty
// value: when the EXISTS count of a group equals its non-empty replies,
// its empty replies are missing keys; otherwise (an empty value, or keys of
// the group created or deleted during the read, or a half-migrated slot
// answering TRYAGAIN to the multi-key EXISTS) each of them is read again
// with the atomic checkedGetScript, which follows ASK. The read is not a
// snapshot across keys (neither is a Cluster's): when keys of a group are
// created and deleted while it runs, an empty value can read as missing.
func (b *Backend) getManyRanged(ctx context.Context, keys []string, out [][]byte) error {
	groups := b.readGroups(keys)
	rngs := make([]*redis.StringCmd, len(keys))
	exists := make([]*redis.IntCmd, len(groups))
	// One backing array for every command's arguments: GETRANGE key 0 max
	// (4 per key) and EXISTS keys... (1 per group plus 1 per key), each key
	// boxed once for both.
	args := make([]any, 0, 5*len(keys)+len(groups))
	cmds := make([]redis.Cmder, 0, len(keys)+len(groups))
	for g, ix := range groups {
		start := len(args)
		args = append(args, "exists")
		for _, i := range ix {
			args = append(args, keys[i])
		}
		exists[g] = redis.NewIntCmd(ctx, args[start:len(args):len(args)]...)
		for j, i := range ix {
			k := args[start+1+j]
			args = append(args, "getrange", k, 0, b.maxArg)
			rngs[i] = redis.NewStringCmd(ctx, args[len(args)-4:len(args):len(args)]...)
			cmds = append(cmds, rngs[i])
		}
		cmds = append(cmds, exists[g])
	}
	b.execPooled(ctx, cmds)
	var empty []int
	for g, ix := range groups {
		present := int64(0)
		first := len(empty)
		for _, i := range ix {
			v, err := rngs[i].Bytes() // the reply's own bytes, not copied
			if err != nil && wrongType(err) {
				// A key of another type: a miss, as the MGET reads it
				// (present for the EXISTS count).
				present++
				continue
			}
			if err != nil {
				return b.fail(ctx, "GETRANGE", keys[i], err)
			}
			switch {
			case len(v) > b.opt.MaxValueBytes:
				_ = b.oversized(keys[i], len(v))
				b.bigKeys.add(keys[i])
				present++
			case len(v) > 0:
				out[i] = v
				b.bigKeys.forget(keys[i])
				present++
			default:
				empty = append(empty, i)
			}
		}
		if n, err := exists[g].Result(); err == nil && n == present {
			empty = empty[:first] // the empty replies are missing keys
		}
	}
	if len(empty) == 0 {
		return nil
	}
	// The empty replies that may be empty values: one more round trip.
	pipe := b.c.Pipeline()
	checks := make([]*redis.Cmd, len(empty))
	for j, i := range empty {
		checks[j] = redis.NewCmd(ctx, "evalsha", checkedGetScript.sha, 1, keys[i], b.maxArg)
		_ = pipe.Process(ctx, checks[j])
	}
	_, _ = pipe.Exec(ctx) // errors are per command
	for j, i := range empty {
		reply, err := checks[j].Result()
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			reply, err = checkedGetScript.run(ctx, b.c, keys[i], b.opt.MaxValueBytes)
		}
		v, err := b.checked(ctx, keys[i], reply, err)
		if err := setFound(out, i, v, err); err != nil {
			return err
		}
	}
	return nil
}

// wrongType reports whether err is Redis' WRONGTYPE reply (a key holding
// another type than a string).
func wrongType(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE ")
}

// readGroups splits the indexes of keys into the groups of a multi-key
// read: one per hash slot on a Cluster, ScanCount keys otherwise.
func (b *Backend) readGroups(keys []string) [][]int {
	if b.topo == cluster {
		return slotGroups(keys)
	}
	var groups [][]int
	for i := 0; i < len(keys); i += b.opt.ScanCount {
		g := make([]int, 0, min(b.opt.ScanCount, len(keys)-i))
		for j := i; j < len(keys) && j < i+b.opt.ScanCount; j++ {
			g = append(g, j)
		}
		groups = append(groups, g)
	}
	return groups
}

// execPooled sends cmds in one pipeline taken from b.pipes and returns it
// there; each command holds its own reply or error.
func (b *Backend) execPooled(ctx context.Context, cmds []redis.Cmder) {
	pipe, ok := b.pipes.Get().(redis.Pipeliner)
	if !ok {
		pipe = b.c.Pipeline()
	}
	_ = pipe.BatchProcess(ctx, cmds...)
	_, _ = pipe.Exec(ctx) // errors are per command
	b.pipes.Put(pipe)     // Exec leaves it empty
}

// boundedGet reads key with a bounded read (GETRANGE key 0 max and EXISTS
// key in one pipeline): one round trip, hit or miss, and never more than
// max+1 bytes of the value. It reuses b's pipelines, boxes the key once
// and queues both commands at once: 12 allocations for a hit (18 with a
// fresh pipeline; 7 for a raw GET read as bytes, which cannot refuse an
// oversized value) and 12 for a miss (27 for a raw GET, which pays
// go-redis' redis.Nil error path).
//
// Why not one Lua script that checks STRLEN before GET (one command, 9
// allocations): a script costs the server ten to forty times what GETRANGE
// costs, and the bigger the value the worse (INFO commandstats, Redis
// 7.0, this machine: 3.9 µs per call against 0.3 + 0.1 µs for GETRANGE
// and EXISTS with a 64-byte value; 863 µs against 21 µs with 256 KiB, the
// value copied into Lua and back), all of it on Redis' single thread. Nor
// GETRANGE alone: it answers "" for a missing key too, so a miss would
// need a second round trip, and memo's miss path reads twice.
func (b *Backend) boundedGet(ctx context.Context, key string) ([]byte, error) {
	pipe, ok := b.pipes.Get().(redis.Pipeliner)
	if !ok {
		pipe = b.c.Pipeline()
	}
	k := any(key)
	r := boundedRead{key: key, rng: redis.NewStringCmd(ctx, "getrange", k, 0, b.maxArg), exists: redis.NewIntCmd(ctx, "exists", k)}
	if p, ok := pipe.(*redis.Pipeline); ok {
		_ = p.BatchProcess(ctx, r.rng, r.exists) // the argument slice stays on the stack
	} else {
		_ = pipe.BatchProcess(ctx, r.rng, r.exists)
	}
	_, _ = pipe.Exec(ctx) // errors are per command
	b.pipes.Put(pipe)     // Exec leaves it empty
	return b.result(ctx, r)
}
