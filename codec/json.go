package codec

import "encoding/json"

// JSON is the encoding/json codec. It is slower and larger than [MsgPack] but
// human-readable and easy to share with other languages. Times keep
// nanosecond precision (RFC 3339); a nil map or slice round-trips as nil.
//
// encoding/json allocates in proportion to its input; before decoding, the
// input's nesting is checked against [MaxDepth] without allocating. It is safe
// for concurrent use.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }
func (jsonCodec) ID() byte     { return idJSON }

func (jsonCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

func (jsonCodec) Unmarshal(data []byte, v any) (err error) {
	if err := resetTarget(v); err != nil {
		return err
	}
	defer recoverCorrupt("json", v, &err)
	if err := checkJSONDepth(data); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		zeroTarget(v)
		return corrupt("json", err)
	}
	return nil
}

// checkJSONDepth rejects input whose arrays and objects nest deeper than
// MaxDepth. Brackets inside strings are skipped; everything else is left to
// encoding/json, which validates the whole input before decoding.
func checkJSONDepth(data []byte) error {
	depth := 0
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++ // skip the escaped byte
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > MaxDepth {
				return corruptf("json: nesting deeper than %d at offset %d", MaxDepth, i)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}
