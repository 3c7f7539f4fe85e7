package codec

import "encoding/binary"

// refCheckMsgpack is the recursive walker checkMsgpack replaced, kept as
// the reference for FuzzCheckMsgpack.
func refCheckMsgpack(data []byte) error {
	off, err := refSkipMsgpack(data, 0, 0)
	if err != nil {
		return err
	}
	if off != len(data) {
		return corruptf("msgpack: %v (%d of %d bytes used)", errTrailing, off, len(data))
	}
	return nil
}

// refSkipMsgpack returns the offset just past the value starting at off.
func refSkipMsgpack(data []byte, off, depth int) (int, error) {
	if off >= len(data) {
		return 0, corruptf("msgpack: truncated at offset %d", off)
	}
	b := data[off]
	off++
	switch {
	case b <= 0x7f || b >= 0xe0: // positive and negative fixint
		return off, nil
	case b <= 0x8f: // fixmap
		return refSkipContainer(data, off, depth, uint64(b&0x0f), 2)
	case b <= 0x9f: // fixarray
		return refSkipContainer(data, off, depth, uint64(b&0x0f), 1)
	case b <= 0xbf: // fixstr
		return refSkipBytes(data, off, uint64(b&0x1f))
	}
	switch b {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return off, nil
	case 0xc4, 0xd9: // bin8, str8
		return refSkipSized(data, off, 1, 0)
	case 0xc5, 0xda: // bin16, str16
		return refSkipSized(data, off, 2, 0)
	case 0xc6, 0xdb: // bin32, str32
		return refSkipSized(data, off, 4, 0)
	case 0xc7: // ext8: length, type, data
		return refSkipSized(data, off, 1, 1)
	case 0xc8: // ext16
		return refSkipSized(data, off, 2, 1)
	case 0xc9: // ext32
		return refSkipSized(data, off, 4, 1)
	case 0xcc, 0xd0: // uint8, int8
		return refSkipBytes(data, off, 1)
	case 0xcd, 0xd1: // uint16, int16
		return refSkipBytes(data, off, 2)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return refSkipBytes(data, off, 4)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return refSkipBytes(data, off, 8)
	case 0xd4: // fixext1: type + 1
		return refSkipBytes(data, off, 2)
	case 0xd5: // fixext2
		return refSkipBytes(data, off, 3)
	case 0xd6: // fixext4
		return refSkipBytes(data, off, 5)
	case 0xd7: // fixext8
		return refSkipBytes(data, off, 9)
	case 0xd8: // fixext16
		return refSkipBytes(data, off, 17)
	case 0xdc, 0xde: // array16, map16
		n, off, err := refReadLen(data, off, 2)
		if err != nil {
			return 0, err
		}
		return refSkipContainer(data, off, depth, n, refPerItem(b))
	case 0xdd, 0xdf: // array32, map32
		n, off, err := refReadLen(data, off, 4)
		if err != nil {
			return 0, err
		}
		return refSkipContainer(data, off, depth, n, refPerItem(b))
	}
	// Only 0xc1 is left: "never used" in the MessagePack spec.
	return 0, corruptf("msgpack: reserved type byte 0x%02x at offset %d", b, off-1)
}

// refPerItem is the number of values per declared element: 2 for maps.
func refPerItem(b byte) uint64 {
	if b == 0xde || b == 0xdf {
		return 2
	}
	return 1
}

// refReadLen reads a big-endian length of size bytes (1, 2 or 4).
func refReadLen(data []byte, off, size int) (uint64, int, error) {
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

// refSkipSized skips a length-prefixed str/bin/ext whose length takes size bytes,
// followed by extra header bytes (the ext type) and then the data.
func refSkipSized(data []byte, off, size int, extra uint64) (int, error) {
	n, off, err := refReadLen(data, off, size)
	if err != nil {
		return 0, err
	}
	return refSkipBytes(data, off, n+extra)
}

// refSkipBytes skips n raw bytes, failing if fewer remain.
func refSkipBytes(data []byte, off int, n uint64) (int, error) {
	if n > uint64(len(data)-off) {
		return 0, corruptf("msgpack: length %d exceeds %d remaining bytes at offset %d", n, len(data)-off, off)
	}
	return off + int(n), nil
}

// refSkipContainer skips n elements of per values each (1 for arrays, 2 for maps).
func refSkipContainer(data []byte, off, depth int, n, per uint64) (int, error) {
	if depth >= MaxDepth {
		return 0, corruptf("msgpack: nesting deeper than %d at offset %d", MaxDepth, off)
	}
	items := n * per // n < 2^32, no overflow
	if items > uint64(len(data)-off) {
		return 0, corruptf("msgpack: %d elements exceed %d remaining bytes at offset %d", n, len(data)-off, off)
	}
	var err error
	for range items {
		if off, err = refSkipMsgpack(data, off, depth+1); err != nil {
			return 0, err
		}
	}
	return off, nil
}
