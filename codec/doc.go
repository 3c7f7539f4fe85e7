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
// the package-level [Decode] reads [Default] entries only. [DecodeMeta] verifies it and returns only the metadata, without
// touching the payload. Not-found markers (negative caching) and tombstones
// (invalidation) carry metadata only.
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
// Every byte slice given to Decode, DecodeMeta or a codec's Unmarshal may come
// from a compromised or buggy writer, so:
//   - wrong magic, unknown version, unknown codec ID or flags, a bad checksum,
//     truncation, foreign bytes or undecodable payloads give an error wrapping
//     [ErrCorrupt], never a panic (decoder panics are recovered and converted)
//     and never a wrong value: the CRC-32C detects every error of up to three
//     bits (in envelopes below 256 MiB) and every burst of up to 32 bits;
//   - MsgPack input is walked before decoding: declared lengths must fit in
//     the input and nesting is at most [MaxDepth], so a 5-byte header claiming
//     a 1 GiB string or a 20-million-element array is rejected without
//     allocating (msgpack v5.4.1 itself trusts declared lengths);
//   - JSON nesting is checked against MaxDepth before decoding;
//   - compressed payloads declare their decompressed size; it must be within
//     [Envelope.MaxSize] (default [DefaultMaxSize]) and is proven before it is
//     trusted for allocation (s2 blocks are walked without output; zstd block
//     headers bound what the frame can produce, and output grows from the
//     input's size), so a lying header costs a small multiple of its input;
//     a truthful bomb — data that really decompresses to MaxSize — costs up
//     to MaxSize;
//   - Gob checks its message framing and decodes a discarding dry run
//     first, so declared counts cannot exceed the input; encoding/gob is
//     still not hardened by its authors: see the warning on [Gob];
//   - the bound is on bytes per input byte per element: decoding a valid
//     array of N nils into a slice of a large struct type allocates N times
//     that struct's size. Size targets from untrusted data accordingly.
package codec
