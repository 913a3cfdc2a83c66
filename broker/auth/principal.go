package auth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Anonymous is the principal of a connection that did not authenticate (PLAINTEXT, or SSL
// without a client certificate), as Kafka names it.
const Anonymous = "User:ANONYMOUS"

// javaKeywords are the attribute names Java's X500Principal.getName() (RFC 2253) prints by
// name; every other attribute is printed as its OID with a #hex DER value.
var javaKeywords = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
}

// DistinguishedName renders a certificate subject as Java's X500Principal.getName() does:
// RFC 2253, most specific attribute first (CN=alice,OU=eng,O=corp,C=US).
func DistinguishedName(name pkix.Name) string {
	seq := name.ToRDNSequence()
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		for j, atv := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeAttribute(&b, atv)
		}
	}
	return b.String()
}

func writeAttribute(b *strings.Builder, atv pkix.AttributeTypeAndValue) {
	oid := atv.Type.String()
	kw, known := javaKeywords[oid]
	s, isString := atv.Value.(string)
	if !known || !isString {
		b.WriteString(oid)
		b.WriteString("=#")
		der, err := asn1.Marshal(atv.Value)
		if err == nil {
			b.WriteString(hex.EncodeToString(der))
		}
		return
	}
	b.WriteString(kw)
	b.WriteByte('=')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(`,+"\<>;`, c) >= 0,
			i == 0 && (c == '#' || c == ' '),
			i == len(s)-1 && c == ' ':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
}

// PrincipalMapper applies ssl.principal.mapping.rules to a distinguished name.
type PrincipalMapper struct {
	rules []mappingRule
}

type mappingRule struct {
	isDefault   bool
	pattern     *regexp.Regexp
	replacement string
	toLower     bool
	toUpper     bool
}

// ruleSplitRE and ruleRE follow Kafka's SslPrincipalMapper.
var (
	ruleSplitRE = regexp.MustCompile(`\s*(DEFAULT|RULE:((\\.|[^\\/])+)/((\\.|[^\\/])*)/([LU]?).*?|(.*?))\s*([,\n]\s*|$)`)
	ruleRE      = regexp.MustCompile(`^RULE:((?:\\.|[^\\/])+)/((?:\\.|[^\\/])*)/([LU]?).*$`)
	javaGroupRE = regexp.MustCompile(`\$(\d+)`)
)

// NewPrincipalMapper parses rules such as
// "RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L,DEFAULT".
func NewPrincipalMapper(rules string) (*PrincipalMapper, error) {
	m := &PrincipalMapper{}
	if strings.TrimSpace(rules) == "" {
		rules = "DEFAULT"
	}
	for _, sm := range ruleSplitRE.FindAllStringSubmatch(rules, -1) {
		r := strings.TrimSpace(sm[1])
		if r == "" {
			continue
		}
		if r == "DEFAULT" {
			m.rules = append(m.rules, mappingRule{isDefault: true})
			continue
		}
		rm := ruleRE.FindStringSubmatch(r)
		if rm == nil {
			return nil, fmt.Errorf("ssl.principal.mapping.rules: invalid rule %q", r)
		}
		re, err := regexp.Compile(`^(?:` + rm[1] + `)$`)
		if err != nil {
			return nil, fmt.Errorf("ssl.principal.mapping.rules: rule %q: %w", r, err)
		}
		m.rules = append(m.rules, mappingRule{pattern: re, replacement: javaGroupRE.ReplaceAllString(rm[2], "$${$1}"),
			toLower: rm[3] == "L", toUpper: rm[3] == "U"})
	}
	if len(m.rules) == 0 {
		m.rules = []mappingRule{{isDefault: true}}
	}
	return m, nil
}

// Name maps a distinguished name to a user name; an error when no rule applies.
func (m *PrincipalMapper) Name(dn string) (string, error) {
	for _, r := range m.rules {
		if r.isDefault {
			return dn, nil
		}
		if !r.pattern.MatchString(dn) {
			continue
		}
		out := r.pattern.ReplaceAllString(dn, r.replacement)
		switch {
		case r.toLower:
			out = strings.ToLower(out)
		case r.toUpper:
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("no ssl.principal.mapping.rules rule applies to %s", dn)
}

// CertificatePrincipal is the principal of a client that presented cert: User: and the
// mapped subject.
func (m *PrincipalMapper) CertificatePrincipal(cert *x509.Certificate) (string, error) {
	name, err := m.Name(DistinguishedName(cert.Subject))
	if err != nil {
		return "", err
	}
	return "User:" + name, nil
}
