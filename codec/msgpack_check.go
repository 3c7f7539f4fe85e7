package codec

import "encoding/binary"

// checkMsgpack walks data as exactly one MessagePack value without allocating
// and reports an ErrCorrupt error unless:
//   - every str/bin/ext length fits in the bytes that remain,
//   - every array count is at most the bytes that remain (an element takes at
//     least one byte) and every map count at most half of them (a pair takes
//     at least two),
//   - nesting is at most MaxDepth,
//   - the reserved byte 0xc1 does not occur as a type byte,
//   - no bytes follow the value.
//
// After it passes, msgpack's decoder cannot be tricked into allocating for
// lengths the input does not contain. Its recursion is bounded by MaxDepth.
func checkMsgpack(data []byte) error {
	off, err := skipMsgpack(data, 0, 0)
	if err != nil {
		return err
	}
	if off != len(data) {
		return corruptf("msgpack: %v (%d of %d bytes used)", errTrailing, off, len(data))
	}
	return nil
}

// skipMsgpack returns the offset just past the value starting at off.
func skipMsgpack(data []byte, off, depth int) (int, error) {
	if off >= len(data) {
		return 0, corruptf("msgpack: truncated at offset %d", off)
	}
	b := data[off]
	off++
	switch {
	case b <= 0x7f || b >= 0xe0: // positive and negative fixint
		return off, nil
	case b <= 0x8f: // fixmap
		return skipContainer(data, off, depth, uint64(b&0x0f), 2)
	case b <= 0x9f: // fixarray
		return skipContainer(data, off, depth, uint64(b&0x0f), 1)
	case b <= 0xbf: // fixstr
		return skipBytes(data, off, uint64(b&0x1f))
	}
	switch b {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return off, nil
	case 0xc4, 0xd9: // bin8, str8
		return skipSized(data, off, 1, 0)
	case 0xc5, 0xda: // bin16, str16
		return skipSized(data, off, 2, 0)
	case 0xc6, 0xdb: // bin32, str32
		return skipSized(data, off, 4, 0)
	case 0xc7: // ext8: length, type, data
		return skipSized(data, off, 1, 1)
	case 0xc8: // ext16
		return skipSized(data, off, 2, 1)
	case 0xc9: // ext32
		return skipSized(data, off, 4, 1)
	case 0xcc, 0xd0: // uint8, int8
		return skipBytes(data, off, 1)
	case 0xcd, 0xd1: // uint16, int16
		return skipBytes(data, off, 2)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return skipBytes(data, off, 4)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return skipBytes(data, off, 8)
	case 0xd4: // fixext1: type + 1
		return skipBytes(data, off, 2)
	case 0xd5: // fixext2
		return skipBytes(data, off, 3)
	case 0xd6: // fixext4
		return skipBytes(data, off, 5)
	case 0xd7: // fixext8
		return skipBytes(data, off, 9)
	case 0xd8: // fixext16
		return skipBytes(data, off, 17)
	case 0xdc, 0xde: // array16, map16
		n, off, err := readLen(data, off, 2)
		if err != nil {
			return 0, err
		}
		return skipContainer(data, off, depth, n, perItem(b))
	case 0xdd, 0xdf: // array32, map32
		n, off, err := readLen(data, off, 4)
		if err != nil {
			return 0, err
		}
		return skipContainer(data, off, depth, n, perItem(b))
	}
	// Only 0xc1 is left: "never used" in the MessagePack spec.
	return 0, corruptf("msgpack: reserved type byte 0x%02x at offset %d", b, off-1)
}

// perItem is the number of values per declared element: 2 for maps.
func perItem(b byte) uint64 {
	if b == 0xde || b == 0xdf {
		return 2
	}
	return 1
}

// readLen reads a big-endian length of size bytes (1, 2 or 4).
func readLen(data []byte, off, size int) (uint64, int, error) {
	if len(data)-off < size {
		return 0, 0, corruptf("msgpack: truncated length at offset %d", off)
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(data[off])
	case 2:
		n = uint64(binary.BigEndian.Uint16(data[off:]))
	default:
		n = uint64(binary.BigEndian.Uint32(data[off:]))
	}
	return n, off + size, nil
}

// skipSized skips a length-prefixed str/bin/ext whose length takes size bytes,
// followed by extra header bytes (the ext type) and then the data.
func skipSized(data []byte, off, size int, extra uint64) (int, error) {
	n, off, err := readLen(data, off, size)
	if err != nil {
		return 0, err
	}
	return skipBytes(data, off, n+extra)
}

// skipBytes skips n raw bytes, failing if fewer remain.
func skipBytes(data []byte, off int, n uint64) (int, error) {
	if n > uint64(len(data)-off) {
		return 0, corruptf("msgpack: length %d exceeds %d remaining bytes at offset %d", n, len(data)-off, off)
	}
	return off + int(n), nil
}

// skipContainer skips n elements of per values each (1 for arrays, 2 for maps).
func skipContainer(data []byte, off, depth int, n, per uint64) (int, error) {
	if depth >= MaxDepth {
		return 0, corruptf("msgpack: nesting deeper than %d at offset %d", MaxDepth, off)
	}
	items := n * per // n < 2^32, no overflow
	if items > uint64(len(data)-off) {
		return 0, corruptf("msgpack: %d elements exceed %d remaining bytes at offset %d", n, len(data)-off, off)
	}
	var err error
	for range items {
		if off, err = skipMsgpack(data, off, depth+1); err != nil {
			return 0, err
		}
	}
	return off, nil
}
