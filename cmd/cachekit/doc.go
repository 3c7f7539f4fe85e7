// Command cachekit benchmarks cachekit's codecs on your data, and inspects,
// explains and purges a live cachekit cache in Redis (standalone or
// Cluster).
//
// It is its own module (so its dependencies stay out of the library's
// go.mod), pointing at the library beside it with a replace directive. From
// the root of a clone, install it with
//
//	go -C cmd/cachekit install .
//
// or run it in place:
//
//	go -C cmd/cachekit run . bench codecs --quick --svg "$PWD/codecs.svg"
//
// # Codec benchmark
//
//	cachekit bench codecs [--sample f.json|f.ndjson ...] [--svg out.svg] [--md out.md] [--json out.json] [--quick] [--time d]
//
// runs package codec/codecbench: every codec × compression through the
// real envelope, round-trip checked, timed, ending with a recommendation.
// Without --sample it uses built-in Post and Feed values; JSON samples are
// decoded into generic Go values (the output says so).
//
// # Operating a cache
//
// Every other command takes --redis URL (or $REDIS_URL): redis:// or
// rediss://, or a comma-separated list of Cluster seeds; a single URL of a
// Cluster node is detected. --timeout bounds every round trip, so a frozen
// server fails fast. Keys are scanned with SCAN on every master, never
// KEYS.
//
//	cachekit stats [--sample n]               server, memory, eviction policy, hit ratio, keys per namespace, TTL histogram
//	cachekit keys NAMESPACE [PATTERN]         user keys, decoded from their stored form
//	cachekit get NAMESPACE KEY                explain one entry (also: get --stored STOREDKEY)
//	cachekit ttl|persist NAMESPACE KEY
//	cachekit expire NAMESPACE KEY DURATION
//	cachekit purge --namespace N              O(1): one write moves the namespace to a new generation
//	cachekit purge --namespace N --prefix P | --pattern G [--all]
//	cachekit purge [--namespace http] --tag T | --url U | --prefix https://host/path
//
// purge counts first, asks for confirmation with the count (--yes skips
// it, --dry-run only counts) and shows progress. A pattern or prefix that
// matches every key needs --all (purge --namespace does the same in one
// write).
//
// Exit status: 0 ok, 1 failure (unreachable, timed out, server error),
// 2 usage (bad flag, URL or argument, unsafe pattern, not a cachekit key),
// 3 not found (namespace or key), 4 declined at the prompt.
package main
