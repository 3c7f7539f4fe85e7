package codec

import "reflect"

// Raw passes bytes through unchanged: Marshal accepts []byte, *[]byte, string
// and *string; Unmarshal accepts *[]byte, *string and *any (which receives a
// []byte). Any other type gives an
// [*UnsupportedTypeError]. Marshal and Unmarshal copy, so the caller may
// reuse its buffers. Raw never fails on input bytes. It is safe for
// concurrent use.
var Raw Codec = rawCodec{}

type rawCodec struct{}

func (rawCodec) Name() string { return "raw" }
func (rawCodec) ID() byte     { return idRaw }

func (c rawCodec) Marshal(v any) ([]byte, error) {
	return c.appendMarshal(nil, v)
}

func (rawCodec) appendMarshal(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return append(dst, v...), nil
	case string:
		return append(dst, v...), nil
	case *[]byte:
		if v != nil {
			return append(dst, *v...), nil
		}
	case *string:
		if v != nil {
			return append(dst, *v...), nil
		}
	}
	return nil, &UnsupportedTypeError{Codec: "raw", Type: reflect.TypeOf(v)}
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	switch v := v.(type) {
	case *[]byte:
		if v != nil {
			*v = append([]byte(nil), data...)
			return nil
		}
	case *string:
		if v != nil {
			*v = string(data)
			return nil
		}
	case *any:
		if v != nil {
			*v = append([]byte(nil), data...)
			return nil
		}
	}
	if err := resetTarget(v); err != nil {
		return err
	}
	return &UnsupportedTypeError{Codec: "raw", Type: reflect.TypeOf(v)}
}
