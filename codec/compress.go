package codec

import (
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

// decompress returns the decompressed form of src. It allocates exactly the
// declared decompressed size, and only after checking it against maxSize.
func decompress(alg Compression, src []byte, maxSize int) ([]byte, error) {
	switch alg {
	case S2:
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, corrupt("s2", err)
		}
		if n > maxSize {
			return nil, corruptf("s2: decoded size %d exceeds limit %d", n, maxSize)
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
		out, err := zstdDecoder().DecodeAll(src, make([]byte, 0, n))
		if err != nil {
			return nil, corrupt("zstd", err)
		}
		if exact && len(out) != n {
			return nil, corruptf("zstd: decoded %d bytes, header declared %d", len(out), n)
		}
		return out, nil
	}
	return nil, corruptf("unknown compression %v", alg)
}
