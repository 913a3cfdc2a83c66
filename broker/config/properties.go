package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
)

// property is one key/value pair of a properties file, with the line it starts on.
type property struct {
	key, value string
	line       int
}

// parseProperties reads text in Java's java.util.Properties syntax:
//   - natural lines end with \n, \r or \r\n; leading whitespace (space, tab,
//     form feed) is ignored;
//   - a line whose first non-blank character is '#' or '!' is a comment, and
//     cannot be continued;
//   - a line ending with an odd number of backslashes continues on the next
//     one, whose leading whitespace is dropped;
//   - the key ends at the first unescaped '=', ':' or whitespace; whitespace
//     around one '=' or ':' separator is skipped; the rest is the value;
//   - escapes: \t \n \r \f, \uXXXX, and a backslash before any other
//     character stands for that character (so "\:", "\=", "\ ", "\\").
//
// Values are returned as written (callers trim). The text is taken as UTF-8.
func parseProperties(text string) ([]property, error) {
	lines := splitLines(text)
	var out []property
	for i := 0; i < len(lines); i++ {
		start := i + 1
		logical := trimLeadingBlank(lines[i])
		if logical == "" || logical[0] == '#' || logical[0] == '!' {
			continue
		}
		for trailingBackslashes(logical)%2 == 1 {
			logical = logical[:len(logical)-1]
			if i+1 >= len(lines) {
				break
			}
			i++
			// An empty continuation line adds nothing and, the count of
			// trailing backslashes now being even, ends the logical line.
			logical += trimLeadingBlank(lines[i])
		}
		rawKey, rawValue := splitKeyValue(logical)
		key, err := unescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		value, err := unescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		out = append(out, property{key: key, value: value, line: start})
	}
	return out, nil
}

func splitLines(text string) []string {
	var lines []string
	for len(text) > 0 {
		i := strings.IndexAny(text, "\r\n")
		if i < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:i])
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
	return lines
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeadingBlank(s string) string {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return s[i:]
}

func trailingBackslashes(s string) int {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n
}

// splitKeyValue splits a logical line as Java's Properties.load0 does.
func splitKeyValue(line string) (key, value string) {
	keyLen, valueStart := 0, len(line)
	hasSep, escaped := false, false
	for keyLen < len(line) {
		c := line[keyLen]
		if (c == '=' || c == ':') && !escaped {
			valueStart, hasSep = keyLen+1, true
			break
		}
		if isBlank(c) && !escaped {
			valueStart = keyLen + 1
			break
		}
		escaped = c == '\\' && !escaped
		keyLen++
	}
	for valueStart < len(line) {
		c := line[valueStart]
		if !isBlank(c) {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valueStart++
	}
	return line[:keyLen], line[valueStart:]
}

// unescape resolves Java properties escapes.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			if c != '\\' {
				b.WriteByte(c)
			}
			continue
		}
		i++
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", fmt.Errorf(`malformed \uxxxx escape in %q`, s)
			}
			i += 4
			// A UTF-16 surrogate pair written as two escapes is one character.
			if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if r2, ok := hex4(s, i+3); ok {
					if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
						r = d
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// hex4 decodes the four hex digits at s[i:i+4].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 16)
	if err != nil || strings.ContainsAny(s[i:i+4], "+-") {
		return 0, false
	}
	return rune(n), true
}
