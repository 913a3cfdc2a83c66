package config

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// value is one parsed configuration value. s holds its canonical rendering,
// the way Kafka renders the typed value (ConfigDef.convertToString).
type value struct {
	typ  Type
	s    string
	i    int64
	f    float64
	b    bool
	list []string
}

// parseValue parses raw as Kafka's ConfigDef parses a string of type typ:
// surrounding whitespace is trimmed, booleans are case-insensitive, lists are
// comma-separated with whitespace around commas ignored. It returns a reason
// when raw is not of the type.
func parseValue(typ Type, raw string) (value, string) {
	s := strings.TrimSpace(raw)
	v := value{typ: typ}
	switch typ {
	case TypeBoolean:
		switch {
		case strings.EqualFold(s, "true"):
			v.b, v.s = true, "true"
		case strings.EqualFold(s, "false"):
			v.b, v.s = false, "false"
		default:
			return v, "expected true or false"
		}
	case TypeInt, TypeShort, TypeLong:
		bits, what := 64, "a 64-bit integer"
		switch typ {
		case TypeInt:
			bits, what = 32, "a 32-bit integer"
		case TypeShort:
			bits, what = 16, "a 16-bit integer"
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return v, "out of range for " + what
			}
			return v, "not an integer"
		}
		v.i, v.s = n, strconv.FormatInt(n, 10)
	case TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimRight(s, "dDfF"), 64)
		if err != nil || s == "" || strings.HasPrefix(strings.ToLower(s), "0x") {
			return v, "not a number"
		}
		v.f, v.s = f, javaDouble(f)
	case TypeList:
		if s != "" {
			for _, e := range strings.Split(s, ",") {
				v.list = append(v.list, strings.TrimSpace(e))
			}
		}
		v.s = strings.Join(v.list, ",")
	default: // string, class, password
		v.s = s
	}
	return v, ""
}

// javaDouble renders f as Java's Double.toString does: plain decimal with at
// least one fraction digit between 1e-3 and 1e7, computerized scientific
// notation (1.0E7) outside.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1.5e+07
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	exp = strings.TrimPrefix(exp, "+")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}

// validator checks a parsed value beyond its type. desc documents the valid
// values; check returns "" or the reason the value is refused.
type validator struct {
	desc  string
	check func(v value) string
}

func atLeast(n int64) *validator {
	s := strconv.FormatInt(n, 10)
	return &validator{
		desc: "[" + s + ",...]",
		check: func(v value) string {
			if v.i < n {
				return "must be at least " + s
			}
			return ""
		},
	}
}

func between(lo, hi int64) *validator {
	l, h := strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10)
	return &validator{
		desc: "[" + l + ",...," + h + "]",
		check: func(v value) string {
			if v.i < lo || v.i > hi {
				return "must be between " + l + " and " + h
			}
			return ""
		},
	}
}

func betweenFloat(lo, hi float64) *validator {
	l, h := javaDouble(lo), javaDouble(hi)
	return &validator{
		desc: "[" + l + ",...," + h + "]",
		check: func(v value) string {
			if !(v.f >= lo && v.f <= hi) {
				return "must be between " + l + " and " + h
			}
			return ""
		},
	}
}

// oneOf accepts one of the given strings (case-sensitive, as Kafka's
// ValidString); for a list, every element must be one of them (ValidList).
func oneOf(allowed ...string) *validator {
	desc := "[" + strings.Join(allowed, ", ") + "]"
	return &validator{
		desc: desc,
		check: func(v value) string {
			if v.typ == TypeList {
				for _, e := range v.list {
					if !slices.Contains(allowed, e) {
						return "every element must be one of " + desc
					}
				}
				return ""
			}
			if !slices.Contains(allowed, v.s) {
				return "must be one of " + desc
			}
			return ""
		},
	}
}

// custom wraps a check function with its description.
func custom(desc string, check func(v value) string) *validator {
	return &validator{desc: desc, check: check}
}
