// Package codec turns cached values into bytes and back, and wraps those bytes
// in a small versioned, checksummed envelope that carries the metadata the
// memo engine needs.
//
// # Codecs
//
// A [Codec] has a stable name and one-byte ID. The built-ins are [MsgPack]
// (the [Default]), [JSON], [Gob] and [Raw]; [ByID] finds one by the ID stored
// in an envelope. Unmarshal always decodes into a fresh value: it zeroes the
// target first, so a reused struct keeps no stale fields.
//
// # Envelope
//
// [Envelope.Encode] stores a value with its [Meta] (kind, created-at, soft
// expiry, load duration, generation), optionally compressed with [S2] or
// [Zstd] when the payload reaches a threshold and compression saves bytes.
// [Envelope.Decode] verifies the envelope and decodes with the reader's codec:
// stored bytes never choose the decoder. An entry written with another codec
// is a [*CodecMismatchError] (wrapping [ErrCorrupt] and [ErrCodecMismatch]),
// unless the reader lists that codec in [Envelope.Accept] for a migration;
// the package-level [Decode] reads [Default] entries only. [DecodeMeta]
// verifies the envelope and returns only the metadata, without touching the
// payload. [Envelope.DecodeBatch] decodes many entries with Decode's checks
// and outcomes, faster (it verifies a few entries before decoding them, so
// each stage's code stays in the CPU's caches). Not-found markers (negative
// caching) and tombstones (invalidation) carry metadata only.
//
// The layout (all integers little-endian or varint):
//
//	magic 0xC1 0x4B | version 1 | codec ID | flags | varint created-at ns |
//	varint soft-expiry ns | varint load-duration ns | varint stale-while-revalidate ns |
//	varint stale-if-error ns | uvarint generation |
//	payload | CRC-32C of everything before it (4 bytes)
//
// The flags byte holds the compression in bits 0-1 and the kind in bits 2-3;
// other bits must be zero. The overhead over the bare codec is typically 15 to
// 25 bytes.
//
// # Hostile input
//
// Every byte slice given to Decode, DecodeBatch, DecodeMeta or a codec's
// Unmarshal may come from a compromised or buggy writer. None of them
// panics or crashes the process on any input (decoder panics are
// recovered, and nesting is bounded before any recursive decoder runs), and
// a failed decode leaves the target zeroed. What each bad input returns:
//   - wrong magic, unknown version, codec ID or flags, a bad checksum,
//     truncation, a payload on a not-found or tombstone entry, foreign bytes
//     or an undecodable payload: an error wrapping [ErrCorrupt], never a
//     wrong value (the CRC-32C detects every error of up to three bits in
//     envelopes below 256 MiB, and every burst of up to 32 bits);
//   - an entry written with a codec the reader does not accept: a
//     [*CodecMismatchError], wrapping ErrCorrupt and [ErrCodecMismatch];
//   - a nil or non-pointer target: an [*InvalidTargetError]; a type [Raw]
//     cannot hold: an [*UnsupportedTypeError].
//
// The bounds:
//   - value size: a compressed payload's declared decompressed size must be
//     at most [Envelope.MaxSize] (default [DefaultMaxSize], 64 MiB) and is
//     proven before it is trusted for allocation (s2 blocks are walked
//     without output; zstd block headers bound what the frame can produce,
//     and output grows from the input's size), so a lying header costs a
//     small multiple of its input and a truthful bomb at most MaxSize. An
//     uncompressed payload is as large as the bytes given; the storage
//     backend bounds those;
//   - depth: [MsgPack], [JSON] and [Gob] values nest at most [MaxDepth] (64)
//     arrays, maps, objects or structs deep; deeper input is ErrCorrupt
//     before decoding starts. Gob counts through recursive types and
//     interface values; encoding/gob has no bound of its own (a 1.4 KB
//     zstd entry nesting a recursive type 3 million levels deep overflowed
//     the stack and killed the process), and encoding/json's own limit is
//     10,000. [Raw] has no structure;
//   - declared lengths: MsgPack and Gob input is walked before decoding
//     without allocating: every string, binary and extension length must
//     fit in the remaining input and every array or map count must be
//     backed by at least one input byte per element, so a 5-byte msgpack
//     header claiming a 1 GiB string or a 20-million-element array, or a
//     45-byte gob map claiming 20 million entries, is rejected at once
//     (msgpack v5.4.1 and encoding/gob trust declared lengths). JSON is
//     validated in full by encoding/json before it allocates;
//   - allocation: after these checks, decoding allocates in proportion to
//     the input size times the size of the target's element types:
//     decoding a valid array of N nils into a slice of a large struct type
//     allocates N times that struct's size. Size targets from untrusted
//     data accordingly. See the warning on [Gob].
package codec
