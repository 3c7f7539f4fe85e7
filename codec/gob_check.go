package codec

import "encoding/binary"

// checkGob walks a gob stream the way encoding/gob's Decoder reads it, without
// decoding or allocating values, and reports an ErrCorrupt error unless:
//   - every message length fits in the input (see checkGobFraming),
//   - every type definition is well formed and defines exactly one kind of
//     type (gob picks a different reading for an ambiguous one depending on
//     the target), under a new id of at least 64,
//   - every value uses defined types (the reserved ids 9-63, gob's own
//     internal types, are refused),
//   - containers (structs, arrays, slices, maps) nest at most MaxDepth deep,
//     whatever the types' recursion or the interface values in between,
//   - every declared string, byte-slice or GobEncoder length fits in its
//     message, every array, slice or map count is at most the bytes left
//     (each element takes at least one byte), and an array's count is its
//     type's length,
//   - every struct ends with its terminator, every interface value declares
//     its exact length and stays within its message (so gob's discarding
//     path, which skips an interface by its declared length, reads the same
//     values as its decoding path),
//   - the value fills the stream exactly.
//
// gob's decoder recurses once per nesting level and has no depth bound for
// values, so a deep value for a recursive type (3 million levels fit in a
// 1.4 KB compressed envelope) ends in a fatal stack overflow that recover
// cannot catch. After checkGob passes, gob's recursion is bounded by
// MaxDepth, and its allocations by the input size times the size of the
// target's element types.
func checkGob(data []byte) error {
	if err := checkGobFraming(data); err != nil {
		return err
	}
	c := gobChecker{data: data, types: map[int64]*gobWire{}}
	id, err := c.typeSequence(false)
	if err != nil {
		return err
	}
	if err := c.value(id, 0); err != nil {
		return err
	}
	if c.off != c.end || c.end != len(data) {
		return corruptf("gob: %v (%d bytes)", errTrailing, len(data)-c.off)
	}
	return nil
}

// gob's predefined type ids (encoding/gob documentation).
const (
	gobIDBool      = 1
	gobIDInt       = 2
	gobIDUint      = 3
	gobIDFloat     = 4
	gobIDBytes     = 5
	gobIDString    = 6
	gobIDComplex   = 7
	gobIDInterface = 8
	gobIDFirstUser = 64
)

// gobKind is the kind of a user-defined wire type.
type gobKind uint8

const (
	gobArray gobKind = iota + 1
	gobSlice
	gobStruct
	gobMap
	gobOpaque // GobEncoder, BinaryMarshaler or TextMarshaler: length-prefixed bytes
)

// gobWire is what the walker keeps of a type definition.
type gobWire struct {
	kind   gobKind
	elem   int64   // array, slice and map element type
	key    int64   // map key type
	length uint64  // array length
	fields []int64 // struct field types, by field number
}

// gobChecker reads a gob stream message by message, like gob's Decoder: off
// is the read position in the current message, which ends at end.
type gobChecker struct {
	data     []byte
	off, end int
	loads    int // messages loaded so far
	types    map[int64]*gobWire
}

// next loads the next message (the current one must be used up).
func (c *gobChecker) next() error {
	if c.end >= len(c.data) {
		return corruptf("gob: unexpected end of stream")
	}
	n, size, _ := gobUint(c.data[c.end:]) // checked by checkGobFraming
	c.off = c.end + size
	c.end = c.off + int(n)
	c.loads++
	return nil
}

func (c *gobChecker) uint() (uint64, error) {
	v, size, ok := gobUint(c.data[c.off:c.end])
	if !ok {
		return 0, corruptf("gob: bad unsigned integer at offset %d", c.off)
	}
	c.off += size
	return v, nil
}

func (c *gobChecker) int() (int64, error) {
	u, err := c.uint()
	if u&1 != 0 {
		return ^int64(u >> 1), err
	}
	return int64(u >> 1), err
}

// typeID reads a type id as gob stores it in a type definition (an int32).
func (c *gobChecker) typeID() (int64, error) {
	id, err := c.int()
	if err == nil && int64(int32(id)) != id {
		return 0, corruptf("gob: type id %d out of range", id)
	}
	return id, err
}

// skip skips a length-prefixed string, byte slice or opaque value.
func (c *gobChecker) skip() error {
	n, err := c.uint()
	if err != nil {
		return err
	}
	if n > uint64(c.end-c.off) {
		return corruptf("gob: length %d exceeds %d bytes left in message at offset %d", n, c.end-c.off, c.off)
	}
	c.off += int(n)
	return nil
}

// count reads an element count and checks that the rest of the stream can
// hold per bytes for each element.
func (c *gobChecker) count(per uint64) (uint64, error) {
	n, err := c.uint()
	if err == nil && n > uint64(len(c.data)-c.off)/per {
		return 0, corruptf("gob: %d elements exceed %d bytes left at offset %d", n, len(c.data)-c.off, c.off)
	}
	return n, err
}

// fields reads a struct's fields, calling field with each field number, up
// to the terminator; nfields bounds the field numbers.
func (c *gobChecker) fields(nfields int, field func(i int) error) error {
	num := -1
	for {
		if c.off == c.end {
			return corruptf("gob: struct without terminator at offset %d", c.off)
		}
		delta, err := c.uint()
		if err != nil {
			return err
		}
		if delta == 0 {
			return nil
		}
		if delta >= uint64(nfields-num) {
			return corruptf("gob: field number out of range at offset %d", c.off)
		}
		num += int(delta)
		if err := field(num); err != nil {
			return err
		}
	}
}

// typeSequence reads type definitions up to a value's type id, loading
// messages as gob's Decoder.decodeTypeSequence does.
func (c *gobChecker) typeSequence(inInterface bool) (int64, error) {
	for {
		if c.off == c.end {
			if err := c.next(); err != nil {
				return 0, err
			}
		}
		id, err := c.int()
		if err != nil {
			return 0, err
		}
		if id >= 0 {
			return id, nil
		}
		if err := c.define(-id); err != nil {
			return 0, err
		}
		if c.off != c.end {
			if !inInterface {
				return 0, corruptf("gob: extra data after type definition at offset %d", c.off)
			}
			if _, err := c.uint(); err != nil { // a length gob skips
				return 0, err
			}
		}
	}
}

// define reads a wireType for id.
func (c *gobChecker) define(id int64) error {
	if id < gobIDFirstUser || int64(int32(id)) != id || c.types[id] != nil {
		return corruptf("gob: bad or duplicate type definition %d", id)
	}
	w := &gobWire{}
	kinds := 0
	err := c.fields(7, func(i int) error {
		kinds++
		switch i {
		case 0: // ArrayT: CommonType, Elem, Len
			w.kind = gobArray
			return c.fields(3, func(j int) error {
				switch j {
				case 0:
					return c.commonType()
				case 1:
					var err error
					w.elem, err = c.typeID()
					return err
				}
				n, err := c.int()
				if n < 0 {
					return corruptf("gob: negative array length %d", n)
				}
				w.length = uint64(n)
				return err
			})
		case 1: // SliceT: CommonType, Elem
			w.kind = gobSlice
			return c.fields(2, func(j int) error {
				if j == 0 {
					return c.commonType()
				}
				var err error
				w.elem, err = c.typeID()
				return err
			})
		case 2: // StructT: CommonType, Field []fieldType{Name, Id}
			w.kind = gobStruct
			return c.fields(2, func(j int) error {
				if j == 0 {
					return c.commonType()
				}
				n, err := c.count(1)
				if err != nil {
					return err
				}
				w.fields = make([]int64, n)
				for k := range w.fields {
					err := c.fields(2, func(f int) error {
						if f == 0 {
							return c.skip()
						}
						var err error
						w.fields[k], err = c.typeID()
						return err
					})
					if err != nil {
						return err
					}
				}
				return nil
			})
		case 3: // MapT: CommonType, Key, Elem
			w.kind = gobMap
			return c.fields(3, func(j int) error {
				var err error
				switch j {
				case 0:
					return c.commonType()
				case 1:
					w.key, err = c.typeID()
				default:
					w.elem, err = c.typeID()
				}
				return err
			})
		}
		// GobEncoderT, BinaryMarshalerT, TextMarshalerT: CommonType
		w.kind = gobOpaque
		return c.fields(1, func(int) error { return c.commonType() })
	})
	if err != nil {
		return err
	}
	if kinds != 1 {
		return corruptf("gob: type definition %d has %d kinds, want 1", id, kinds)
	}
	c.types[id] = w
	return nil
}

// commonType reads a CommonType{Name string, Id int}.
func (c *gobChecker) commonType() error {
	return c.fields(2, func(i int) error {
		if i == 0 {
			return c.skip()
		}
		_, err := c.typeID()
		return err
	})
}

// value reads a top-level or interface value of type id: a struct, or any
// other type as a singleton field (a zero delta, then the value).
func (c *gobChecker) value(id int64, depth int) error {
	if w := c.types[id]; w != nil && w.kind == gobStruct {
		return c.field(id, depth)
	}
	delta, err := c.uint()
	if err != nil {
		return err
	}
	if delta != 0 {
		return corruptf("gob: non-zero delta %d for a singleton at offset %d", delta, c.off)
	}
	return c.field(id, depth)
}

// field reads one value of type id nested in depth containers.
func (c *gobChecker) field(id int64, depth int) error {
	switch id {
	case gobIDBool, gobIDInt, gobIDUint, gobIDFloat:
		_, err := c.uint()
		return err
	case gobIDComplex:
		if _, err := c.uint(); err != nil {
			return err
		}
		_, err := c.uint()
		return err
	case gobIDBytes, gobIDString:
		return c.skip()
	case gobIDInterface:
		return c.iface(depth)
	}
	w := c.types[id]
	if w == nil {
		return corruptf("gob: undefined or reserved type id %d", id)
	}
	if w.kind == gobOpaque {
		return c.skip()
	}
	if depth >= MaxDepth {
		return corruptf("gob: nesting deeper than %d at offset %d", MaxDepth, c.off)
	}
	switch w.kind {
	case gobStruct:
		return c.fields(len(w.fields), func(i int) error { return c.field(w.fields[i], depth+1) })
	case gobMap:
		n, err := c.count(2)
		for ; err == nil && n > 0; n-- {
			if err = c.field(w.key, depth+1); err == nil {
				err = c.field(w.elem, depth+1)
			}
		}
		return err
	}
	n, err := c.count(1)
	if err == nil && w.kind == gobArray && n != w.length {
		return corruptf("gob: array of %d elements, type says %d", n, w.length)
	}
	for ; err == nil && n > 0; n-- {
		err = c.field(w.elem, depth+1)
	}
	return err
}

// iface reads an interface value: the concrete type's name (empty for nil),
// type definitions, the concrete type id, the value's length and the value.
func (c *gobChecker) iface(depth int) error {
	n, err := c.uint()
	if err != nil {
		return err
	}
	switch {
	case n == 0: // nil
		return nil
	case n > 1024 || n > uint64(c.end-c.off):
		return corruptf("gob: bad interface type name length %d at offset %d", n, c.off)
	}
	c.off += int(n)
	id, err := c.typeSequence(true)
	if err != nil {
		return err
	}
	if id == gobIDInterface {
		// No concrete type is an interface; gob refuses it too, but only
		// after recursing into it.
		return corruptf("gob: interface value of interface type at offset %d", c.off)
	}
	if n, err = c.uint(); err != nil {
		return err
	}
	start, loads := c.off, c.loads
	if err := c.value(id, depth); err != nil {
		return err
	}
	if c.loads != loads || uint64(c.off-start) != n {
		return corruptf("gob: interface value declares %d bytes at offset %d, has %d", n, start, c.off-start)
	}
	return nil
}

// checkGobFraming walks the gob stream's count-delimited messages and checks
// that each declared count fits in the remaining input, so the decoder never
// sizes a message buffer from a length the input does not contain.
func checkGobFraming(data []byte) error {
	if len(data) == 0 {
		return corruptf("gob: empty input")
	}
	for off := 0; off < len(data); {
		n, size, ok := gobUint(data[off:])
		if !ok {
			return corruptf("gob: bad message length at offset %d", off)
		}
		off += size
		if n == 0 || n > uint64(len(data)-off) {
			return corruptf("gob: message length %d exceeds %d remaining bytes at offset %d", n, len(data)-off, off)
		}
		off += int(n)
	}
	return nil
}

// gobUint decodes a gob unsigned integer: one byte below 128, otherwise a
// byte holding the negated byte count followed by that many big-endian bytes.
func gobUint(b []byte) (v uint64, size int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1, true
	}
	n := int(-int8(b[0]))
	if n < 1 || n > 8 || len(b) < 1+n {
		return 0, 0, false
	}
	var buf [8]byte
	copy(buf[8-n:], b[1:1+n])
	return binary.BigEndian.Uint64(buf[:]), 1 + n, true
}
