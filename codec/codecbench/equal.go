package codecbench

import (
	"fmt"
	"reflect"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// Diff reports where a round-tripped value differs from its original, as
// a path such as ".Posts[3].Tags: length 5, want 4", or "" when they are
// equal. It is the default equality of [Compare]: reflect.DeepEqual's
// rules except that
//
//   - a time.Time compares by instant (Equal), since codecs do not keep a
//     location or a monotonic reading;
//   - a nil and an empty slice or map are equal (gob does not transmit
//     empty values, and JSON and msgpack decode an empty one as empty);
//   - numbers inside interface values compare by value across numeric
//     kinds (msgpack decodes a small integer into an any as int8).
//
// Unexported fields are compared too (no codec transmits them, so a type
// whose unexported fields are set reports a loss). Cyclic values are not
// supported.
func Diff(got, want any) string {
	return diff(reflect.ValueOf(got), reflect.ValueOf(want), "", 0)
}

// maxDiffDepth stops the walk of a pathological value.
const maxDiffDepth = 256

func diff(g, w reflect.Value, path string, depth int) string {
	if depth > maxDiffDepth {
		return ""
	}
	if !g.IsValid() || !w.IsValid() {
		if g.IsValid() == w.IsValid() {
			return ""
		}
		return at(path, "%v, want %v", describe(g), describe(w))
	}
	if g.Type() != w.Type() {
		if numEqual(g, w) {
			return ""
		}
		return at(path, "%v (%v), want %v (%v)", describe(g), g.Type(), describe(w), w.Type())
	}
	if g.Type() == timeType && g.CanInterface() && w.CanInterface() {
		gt, wt := g.Interface().(time.Time), w.Interface().(time.Time)
		if !gt.Equal(wt) {
			return at(path, "%v, want %v", gt, wt)
		}
		return ""
	}
	switch g.Kind() {
	case reflect.Pointer, reflect.Interface:
		if g.IsNil() || w.IsNil() {
			if g.IsNil() == w.IsNil() {
				return ""
			}
			return at(path, "%v, want %v", describe(g), describe(w))
		}
		return diff(g.Elem(), w.Elem(), path, depth+1)
	case reflect.Slice, reflect.Array:
		if g.Len() != w.Len() {
			return at(path, "length %d, want %d", g.Len(), w.Len())
		}
		for i := range g.Len() {
			if d := diff(g.Index(i), w.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if g.Len() != w.Len() {
			return at(path, "%d entries, want %d", g.Len(), w.Len())
		}
		it := w.MapRange()
		for it.Next() {
			gv := g.MapIndex(it.Key())
			p := fmt.Sprintf("%s[%v]", path, it.Key())
			if !gv.IsValid() {
				return at(p, "missing")
			}
			if d := diff(gv, it.Value(), p, depth+1); d != "" {
				return d
			}
		}
		return ""
	case reflect.Struct:
		for i := range g.NumField() {
			if d := diff(g.Field(i), w.Field(i), path+"."+g.Type().Field(i).Name, depth+1); d != "" {
				return d
			}
		}
		return ""
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		if g.Pointer() != w.Pointer() {
			return at(path, "%v differs", g.Kind())
		}
		return ""
	case reflect.Float32, reflect.Float64:
		gf, wf := g.Float(), w.Float()
		if gf != wf && (gf == gf || wf == wf) { // NaN equals NaN here
			return at(path, "%v, want %v", gf, wf)
		}
		return ""
	}
	if !scalarEqual(g, w) {
		return at(path, "%v, want %v", describe(g), describe(w))
	}
	return ""
}

func scalarEqual(g, w reflect.Value) bool {
	switch g.Kind() {
	case reflect.Bool:
		return g.Bool() == w.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return g.Int() == w.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return g.Uint() == w.Uint()
	case reflect.Complex64, reflect.Complex128:
		return g.Complex() == w.Complex()
	case reflect.String:
		return g.String() == w.String()
	}
	return false
}

// numEqual compares two numbers of different kinds by exact value.
func numEqual(g, w reflect.Value) bool {
	gi, gk := number(g)
	wi, wk := number(w)
	if gk == kindNone || wk == kindNone {
		return false
	}
	if gk == kindFloat || wk == kindFloat {
		gf, wf := asFloat(g, gk), asFloat(w, wk)
		// Exact only if the integer side survives the conversion.
		return gf == wf && exactFloat(g, gk) && exactFloat(w, wk)
	}
	return gi == wi && (gk == wk || gi.sign >= 0 && wi.sign >= 0)
}

type numKind int

const (
	kindNone numKind = iota
	kindInt
	kindUint
	kindFloat
)

// intVal is an integer as sign and magnitude.
type intVal struct {
	sign int
	mag  uint64
}

func number(v reflect.Value) (intVal, numKind) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := v.Int()
		if i < 0 {
			return intVal{-1, uint64(-(i + 1)) + 1}, kindInt
		}
		return intVal{1, uint64(i)}, kindInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return intVal{1, v.Uint()}, kindUint
	case reflect.Float32, reflect.Float64:
		return intVal{}, kindFloat
	}
	return intVal{}, kindNone
}

func asFloat(v reflect.Value, k numKind) float64 {
	switch k {
	case kindInt:
		return float64(v.Int())
	case kindUint:
		return float64(v.Uint())
	}
	return v.Float()
}

// exactFloat reports whether v converts to float64 without rounding.
func exactFloat(v reflect.Value, k numKind) bool {
	const limit = 1 << 53
	switch k {
	case kindInt:
		i := v.Int()
		return -limit <= i && i <= limit
	case kindUint:
		return v.Uint() <= limit
	}
	return true
}

func describe(v reflect.Value) string {
	if !v.IsValid() {
		return "nothing"
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return "nil"
		}
	case reflect.String:
		s := v.String()
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return fmt.Sprintf("%q", s)
	}
	if v.CanInterface() {
		s := fmt.Sprintf("%v", v.Interface())
		if len(s) > 60 {
			s = s[:60] + "…"
		}
		return s
	}
	return v.Kind().String()
}

func at(path, format string, args ...any) string {
	if path == "" {
		path = "value"
	}
	return path + ": " + fmt.Sprintf(format, args...)
}
