package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compression selects how an envelope compresses its payload. The value is
// stored in the envelope, so never renumber one.
type Compression uint8

const (
	// NoCompression stores the payload as the codec wrote it.
	NoCompression Compression = 0
	// S2 is klauspost/compress/s2 (a faster Snappy successor): very fast,
	// moderate ratio. The usual choice for a cache.
	S2 Compression = 1
	// Zstd is klauspost/compress/zstd at its default level: better ratio,
	// slower than S2.
	Zstd Compression = 2
)

// String returns "none", "s2", "zstd" or "compression(N)".
func (c Compression) String() string {
	switch c {
	case NoCompression:
		return "none"
	case S2:
		return "s2"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// DefaultThreshold is the smallest payload, in bytes, that an [Envelope]
// tries to compress when its Threshold is 0.
const DefaultThreshold = 1 << 10

// DefaultMaxSize is the largest payload, in bytes, that an [Envelope] will
// decompress when its MaxSize is 0. Larger declared sizes wrap [ErrCorrupt]
// before anything is allocated.
const DefaultMaxSize = 64 << 20

// zstdNoFCSMax bounds a zstd frame that does not declare its content size.
const zstdNoFCSMax = 255

// zstdEncoder and zstdDecoder are expensive to build and safe for concurrent
// EncodeAll/DecodeAll, so one of each is shared.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderCRC(false), // the envelope has its own CRC-32C
			zstd.WithLowerEncoderMem(true),
		)
		if err != nil {
			panic("codec: zstd encoder: " + err.Error()) // static options: cannot happen
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(1<<30), // backstop; the real cap is per call
			zstd.WithDecodeAllCapLimit(true), // never grow dst past its capacity
		)
		if err != nil {
			panic("codec: zstd decoder: " + err.Error()) // static options: cannot happen
		}
		return d
	})
)

// compress appends the compressed form of src to dst.
func compress(alg Compression, dst, src []byte) []byte {
	switch alg {
	case S2:
		n := s2.MaxEncodedLen(len(src))
		if cap(dst)-len(dst) < n {
			dst = append(dst, make([]byte, n)...)[:len(dst)]
		}
		out := s2.Encode(dst[len(dst):len(dst)+n], src)
		return dst[:len(dst)+len(out)]
	case Zstd:
		return zstdEncoder().EncodeAll(src, dst)
	}
	return append(dst, src...)
}

// decompress returns the decompressed form of src, at most maxSize bytes.
// A declared size is never trusted for allocation: s2 data is walked first
// (no allocation) to prove its declared size, and zstd output grows from a
// buffer proportional to the input. A truthful compression bomb can still
// cost up to maxSize; a lying header costs a small multiple of its input.
func decompress(alg Compression, src []byte, maxSize int) ([]byte, error) {
	switch alg {
	case S2:
		n, hdr := binary.Uvarint(src)
		if hdr <= 0 {
			return nil, corruptf("s2: bad length header")
		}
		if n > uint64(maxSize) {
			return nil, corruptf("s2: decoded size %d exceeds limit %d", n, maxSize)
		}
		if got, ok := s2Walk(src[hdr:]); !ok || uint64(got) != n {
			return nil, corruptf("s2: block decodes to %d bytes, header declares %d", got, n)
		}
		out, err := s2.Decode(make([]byte, n), src)
		if err != nil {
			return nil, corrupt("s2", err)
		}
		return out, nil
	case Zstd:
		var h zstd.Header
		if err := h.Decode(src); err != nil {
			return nil, corrupt("zstd", err)
		}
		// Without a content size (the encoder omits it below 256 bytes), the
		// capacity limit bounds the output instead.
		n, exact := zstdNoFCSMax, h.HasFCS
		if exact {
			if h.FrameContentSize > uint64(maxSize) {
				return nil, corruptf("zstd: decoded size %d exceeds limit %d", h.FrameContentSize, maxSize)
			}
			n = int(h.FrameContentSize)
		}
		n = min(n, maxSize)
		// The decoder sizes its buffers from the declared content size:
		// prove first, from the block headers alone, that the frame can
		// produce that much.
		if most, ok := zstdMaxOutput(src, h.HeaderSize, h.WindowSize); !ok || (exact && uint64(n) > most) {
			return nil, corruptf("zstd: frame can produce at most %d bytes, header declares %d", most, n)
		}
		// Grow the output from what the input can plausibly produce, not
		// from the declared size: a lying header fails at the first size.
		c := min(n, 64<<10+8*len(src))
		for {
			out, err := zstdDecoder().DecodeAll(src, make([]byte, 0, c))
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) && c < n {
				c = min(n, 4*c)
				continue
			}
			if err != nil {
				return nil, corrupt("zstd", err)
			}
			if exact && len(out) != n {
				return nil, corruptf("zstd: decoded %d bytes, header declared %d", len(out), n)
			}
			return out, nil
		}
	}
	return nil, corruptf("unknown compression %v", alg)
}

// s2Walk parses an s2 block body (after its length header) without
// writing any output and returns the size it decodes to, or ok=false if
// it is malformed: every tag, length and offset is bounds-checked against
// the input and the output so far. It mirrors s2's decoder.
func s2Walk(src []byte) (size int, ok bool) {
	const maxSize = 1 << 40
	d, s, offset := 0, 0, 0
	for s < len(src) {
		tag := src[s]
		var length int
		switch tag & 0x03 {
		case 0x00: // literal
			x := uint32(tag >> 2)
			switch {
			case x < 60:
				s++
			case x == 60:
				if s+2 > len(src) {
					return d, false
				}
				x = uint32(src[s+1])
				s += 2
			case x == 61:
				if s+3 > len(src) {
					return d, false
				}
				x = uint32(src[s+1]) | uint32(src[s+2])<<8
				s += 3
			case x == 62:
				if s+4 > len(src) {
					return d, false
				}
				x = uint32(src[s+1]) | uint32(src[s+2])<<8 | uint32(src[s+3])<<16
				s += 4
			default: // 63
				if s+5 > len(src) {
					return d, false
				}
				x = binary.LittleEndian.Uint32(src[s+1:])
				s += 5
			}
			length = int(x) + 1
			if length <= 0 || length > len(src)-s {
				return d, false
			}
			s += length
			d += length
			continue
		case 0x01: // copy with 1-byte offset, or repeat
			if s+2 > len(src) {
				return d, false
			}
			toffset := int(uint32(src[s])&0xe0<<3 | uint32(src[s+1]))
			length = int(src[s]) >> 2 & 0x7
			s += 2
			if toffset == 0 {
				switch length {
				case 5:
					if s+1 > len(src) {
						return d, false
					}
					length = int(src[s]) + 4
					s++
				case 6:
					if s+2 > len(src) {
						return d, false
					}
					length = int(binary.LittleEndian.Uint16(src[s:])) + 1<<8
					s += 2
				case 7:
					if s+3 > len(src) {
						return d, false
					}
					length = (int(src[s]) | int(src[s+1])<<8 | int(src[s+2])<<16) + 1<<16
					s += 3
				}
			} else {
				offset = toffset
			}
			length += 4
		case 0x02: // copy with 2-byte offset
			if s+3 > len(src) {
				return d, false
			}
			offset = int(binary.LittleEndian.Uint16(src[s+1:]))
			length = 1 + int(tag>>2)
			s += 3
		default: // copy with 4-byte offset
			if s+5 > len(src) {
				return d, false
			}
			offset = int(binary.LittleEndian.Uint32(src[s+1:]))
			length = 1 + int(tag>>2)
			s += 5
		}
		if offset <= 0 || d < offset {
			return d, false
		}
		d += length
		if d > maxSize {
			return d, false
		}
	}
	return d, true
}

// zstdMaxOutput walks the blocks of a zstd frame (RFC 8878 §3.1.1.2)
// without decoding them and returns the most output they can produce:
// raw and RLE blocks produce exactly their size, a compressed block at most
// the block maximum. ok=false for a malformed or truncated frame.
func zstdMaxOutput(src []byte, headerSize int, window uint64) (most uint64, ok bool) {
	const blockMax = 128 << 10
	limit := uint64(blockMax)
	if window > 0 && window < limit {
		limit = window
	}
	s := headerSize
	if s <= 0 || s > len(src) {
		return 0, false
	}
	for {
		if s+3 > len(src) {
			return most, false
		}
		bh := uint32(src[s]) | uint32(src[s+1])<<8 | uint32(src[s+2])<<16
		s += 3
		last, typ, size := bh&1 == 1, (bh>>1)&3, int(bh>>3)
		switch typ {
		case 0: // raw
			if size > len(src)-s {
				return most, false
			}
			s += size
			most += uint64(size)
		case 1: // RLE: one byte repeated size times
			if s+1 > len(src) {
				return most, false
			}
			s++
			most += uint64(size)
		case 2: // compressed
			if size > len(src)-s {
				return most, false
			}
			s += size
			most += limit
		default:
			return most, false
		}
		if last {
			return most, true
		}
	}
}
