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
// lengths the input does not contain, and its recursion is bounded by
// MaxDepth. The walk itself does not recurse.
func checkMsgpack(data []byte) error {
	// rem is the number of values still to read at the current depth (at
	// depth 0: the one top-level value); outer[d] keeps it for each
	// enclosing container. One loop instead of a call per value: this walk
	// runs before every msgpack decode.
	var outer [MaxDepth]uint64
	rem := uint64(1)
	depth, off, n := 0, 0, len(data)
	for {
		for rem == 0 {
			if depth == 0 {
				if off != n {
					return corruptf("msgpack: %v (%d of %d bytes used)", errTrailing, off, n)
				}
				return nil
			}
			depth--
			rem = outer[depth]
		}
		rem--
		if off >= n {
			return corruptf("msgpack: truncated at offset %d", off)
		}
		b := data[off]
		off++
		var skip, items uint64 // bytes to skip; values in a container
		switch {
		case b <= 0x7f || b >= 0xe0: // positive and negative fixint
			continue
		case b >= 0xa0 && b <= 0xbf: // fixstr
			skip = uint64(b & 0x1f)
		case b <= 0x8f: // fixmap
			items = uint64(b&0x0f) * 2
			goto container
		case b <= 0x9f: // fixarray
			items = uint64(b & 0x0f)
			goto container
		default:
			t := msgpackTypes[b-0xc0]
			switch t.kind {
			case mpFixed:
				skip = uint64(t.size)
			case mpInvalid: // 0xc1: "never used" in the MessagePack spec
				return corruptf("msgpack: reserved type byte 0x%02x at offset %d", b, off-1)
			default:
				size := int(t.size)
				if n-off < size {
					return corruptf("msgpack: truncated length at offset %d", off)
				}
				var l uint64
				switch size {
				case 1:
					l = uint64(data[off])
				case 2:
					l = uint64(binary.BigEndian.Uint16(data[off:]))
				default:
					l = uint64(binary.BigEndian.Uint32(data[off:]))
				}
				off += size
				switch t.kind {
				case mpSized:
					skip = l + uint64(t.extra)
				case mpArray:
					items = l
					goto container
				default: // mpMap
					items = 2 * l
					goto container
				}
			}
		}
		if skip > uint64(n-off) {
			return corruptf("msgpack: length %d exceeds %d remaining bytes at offset %d", skip, n-off, off)
		}
		off += int(skip)
		continue
	container:
		if depth >= MaxDepth {
			return corruptf("msgpack: nesting deeper than %d at offset %d", MaxDepth, off)
		}
		// Every value takes at least one byte.
		if items > uint64(n-off) {
			return corruptf("msgpack: %d values exceed %d remaining bytes at offset %d", items, n-off, off)
		}
		if items > 0 {
			outer[depth] = rem
			depth++
			rem = items
		}
	}
}

// msgpackType describes the type bytes 0xc0-0xdf.
type msgpackType struct {
	kind  uint8 // mpFixed, mpSized, mpArray, mpMap or mpInvalid
	size  uint8 // mpFixed: bytes that follow; others: bytes of the length
	extra uint8 // mpSized: bytes between the length and the data (ext type)
}

const (
	mpFixed uint8 = iota
	mpSized
	mpArray
	mpMap
	mpInvalid
)

var msgpackTypes = [32]msgpackType{
	0x00: {mpFixed, 0, 0},   // nil
	0x01: {mpInvalid, 0, 0}, // never used
	0x02: {mpFixed, 0, 0},   // false
	0x03: {mpFixed, 0, 0},   // true
	0x04: {mpSized, 1, 0},   // bin8
	0x05: {mpSized, 2, 0},   // bin16
	0x06: {mpSized, 4, 0},   // bin32
	0x07: {mpSized, 1, 1},   // ext8: length, type, data
	0x08: {mpSized, 2, 1},   // ext16
	0x09: {mpSized, 4, 1},   // ext32
	0x0a: {mpFixed, 4, 0},   // float32
	0x0b: {mpFixed, 8, 0},   // float64
	0x0c: {mpFixed, 1, 0},   // uint8
	0x0d: {mpFixed, 2, 0},   // uint16
	0x0e: {mpFixed, 4, 0},   // uint32
	0x0f: {mpFixed, 8, 0},   // uint64
	0x10: {mpFixed, 1, 0},   // int8
	0x11: {mpFixed, 2, 0},   // int16
	0x12: {mpFixed, 4, 0},   // int32
	0x13: {mpFixed, 8, 0},   // int64
	0x14: {mpFixed, 2, 0},   // fixext1: type + 1
	0x15: {mpFixed, 3, 0},   // fixext2
	0x16: {mpFixed, 5, 0},   // fixext4
	0x17: {mpFixed, 9, 0},   // fixext8
	0x18: {mpFixed, 17, 0},  // fixext16
	0x19: {mpSized, 1, 0},   // str8
	0x1a: {mpSized, 2, 0},   // str16
	0x1b: {mpSized, 4, 0},   // str32
	0x1c: {mpArray, 2, 0},   // array16
	0x1d: {mpArray, 4, 0},   // array32
	0x1e: {mpMap, 2, 0},     // map16
	0x1f: {mpMap, 4, 0},     // map32
}
