package auth

import (
	"fmt"
	"strings"
)

// JAAS is one login module entry of a sasl.jaas.config value, such as
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required
//	    username="admin" password="admin-secret" user_alice="alice-secret";
type JAAS struct {
	Module  string
	Flag    string
	Options map[string]string
}

// ParseJAAS parses the first login module of a sasl.jaas.config value. Errors never quote
// option values (they hold passwords).
func ParseJAAS(s string) (JAAS, error) {
	p := jaasParser{s: s}
	j := JAAS{Options: map[string]string{}}
	if j.Module = p.word(); j.Module == "" {
		return j, fmt.Errorf("sasl.jaas.config: no login module")
	}
	if j.Flag = p.word(); j.Flag == "" {
		return j, fmt.Errorf("sasl.jaas.config: login module %s has no control flag", j.Module)
	}
	switch strings.ToLower(j.Flag) {
	case "required", "requisite", "sufficient", "optional":
	default:
		return j, fmt.Errorf("sasl.jaas.config: login module %s: unknown control flag", j.Module)
	}
	for {
		p.space()
		if p.eof() {
			return j, fmt.Errorf("sasl.jaas.config: login module %s does not end with ';'", j.Module)
		}
		if p.s[p.i] == ';' {
			return j, nil
		}
		key := p.word()
		p.space()
		if key == "" || p.eof() || p.s[p.i] != '=' {
			return j, fmt.Errorf("sasl.jaas.config: login module %s: expected key=value after %d options", j.Module, len(j.Options))
		}
		p.i++
		p.space()
		val, ok := p.value()
		if !ok {
			return j, fmt.Errorf("sasl.jaas.config: login module %s: option %s has an unterminated value", j.Module, key)
		}
		j.Options[key] = val
	}
}

type jaasParser struct {
	s string
	i int
}

func (p *jaasParser) eof() bool { return p.i >= len(p.s) }

func (p *jaasParser) space() {
	for !p.eof() && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *jaasParser) word() string {
	p.space()
	start := p.i
	for !p.eof() && strings.IndexByte(" \t\r\n=;\"", p.s[p.i]) < 0 {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *jaasParser) value() (string, bool) {
	if p.eof() {
		return "", false
	}
	if p.s[p.i] != '"' {
		return p.word(), true
	}
	p.i++
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\' && !p.eof():
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return b.String(), true
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}
