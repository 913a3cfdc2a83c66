package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// listenerRE is Kafka's endpoint syntax: NAME://host:port, the host possibly
// in brackets (IPv6) or empty.
var listenerRE = regexp.MustCompile(`^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$`)

var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// parseProtocolMap parses listener.security.protocol.map: NAME:PROTOCOL pairs.
func parseProtocolMap(s string) (map[string]string, string) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, proto, ok := strings.Cut(pair, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, fmt.Sprintf("%q is not LISTENER_NAME:SECURITY_PROTOCOL", pair)
		}
		known := false
		for _, p := range securityProtocols {
			known = known || p == proto
		}
		if !known {
			return nil, fmt.Sprintf("unknown security protocol %q (expected one of %s)", proto, strings.Join(securityProtocols, ", "))
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Sprintf("listener name %s appears twice", name)
		}
		m[name] = proto
	}
	return m, ""
}

// parseListeners parses a comma-separated list of NAME://host:port.
func parseListeners(s string, protocols map[string]string) ([]Listener, string) {
	var out []Listener
	names := map[string]bool{}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		m := listenerRE.FindStringSubmatch(e)
		if m == nil {
			return nil, fmt.Sprintf("%q is not NAME://host:port", e)
		}
		port, err := strconv.Atoi(m[3])
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Sprintf("port of %q is not between 0 and 65535", e)
		}
		name := strings.ToUpper(m[1])
		proto, ok := protocols[name]
		if !ok {
			return nil, fmt.Sprintf("listener name %s has no security protocol in listener.security.protocol.map", name)
		}
		if names[name] {
			return nil, fmt.Sprintf("listener name %s appears twice; each listener needs its own name", name)
		}
		names[name] = true
		out = append(out, Listener{Name: name, SecurityProtocol: proto, Host: m[2], Port: port})
	}
	if len(out) == 0 {
		return nil, "at least one listener is needed"
	}
	return out, ""
}

// deriveListeners fills Listeners, AdvertisedListeners,
// ListenerSecurityProtocolMap and InterBrokerListenerName.
func (c *Config) deriveListeners(p map[string]value, hostname func() (string, error)) []error {
	var errs []error
	fail := func(key, reason string) {
		errs = append(errs, &Error{Key: key, Value: p[key].s, Reason: reason})
	}
	protocols, reason := parseProtocolMap(p["listener.security.protocol.map"].s)
	if reason != "" {
		fail("listener.security.protocol.map", reason)
		return errs
	}
	c.ListenerSecurityProtocolMap = protocols

	c.Listeners, reason = parseListeners(p["listeners"].s, protocols)
	if reason != "" {
		fail("listeners", reason)
		return errs
	}
	ports := map[int]string{}
	for _, l := range c.Listeners {
		if other, dup := ports[l.Port]; dup && l.Port != 0 {
			fail("listeners", fmt.Sprintf("listeners %s and %s use the same port %d", other, l.Name, l.Port))
			return errs
		}
		ports[l.Port] = l.Name
	}

	advKey := "listeners"
	if adv, ok := p["advertised.listeners"]; ok {
		advKey = "advertised.listeners"
		c.AdvertisedListeners, reason = parseListeners(adv.s, protocols)
		if reason != "" {
			fail(advKey, reason)
			return errs
		}
		for _, a := range c.AdvertisedListeners {
			found := false
			for _, l := range c.Listeners {
				found = found || l.Name == a.Name
			}
			if !found {
				fail(advKey, fmt.Sprintf("advertised listener %s is not in listeners", a.Name))
				return errs
			}
		}
	} else {
		c.AdvertisedListeners = append([]Listener(nil), c.Listeners...)
	}
	for i := range c.AdvertisedListeners {
		a := &c.AdvertisedListeners[i]
		switch a.Host {
		case "0.0.0.0", "::":
			fail(advKey, fmt.Sprintf("advertised listener %s cannot use the non-routable meta-address %s; set advertised.listeners to a routable address", a.Name, a.Host))
			return errs
		case "":
			h, err := hostname()
			if err != nil || h == "" {
				fail(advKey, fmt.Sprintf("listener %s has no host and the machine's hostname is unknown (%v); set advertised.listeners", a.Name, err))
				return errs
			}
			a.Host = h
		}
		if a.Port == 0 && advKey == "advertised.listeners" {
			fail(advKey, fmt.Sprintf("advertised listener %s needs a port other than 0", a.Name))
			return errs
		}
	}

	// Inter-broker listener: by name, or by protocol (only one of the two).
	_, byName := c.Raw["inter.broker.listener.name"]
	_, byProto := c.Raw["security.inter.broker.protocol"]
	switch {
	case byName && byProto:
		fail("inter.broker.listener.name", "set only one of inter.broker.listener.name and security.inter.broker.protocol")
	case byName:
		c.InterBrokerListenerName = strings.ToUpper(c.InterBrokerListenerName)
		found := false
		for _, a := range c.AdvertisedListeners {
			found = found || a.Name == c.InterBrokerListenerName
		}
		if !found {
			fail("inter.broker.listener.name", fmt.Sprintf("listener %s is not in %s", c.InterBrokerListenerName, advKey))
		}
	default:
		proto := p["security.inter.broker.protocol"].s
		c.InterBrokerListenerName = proto
		found := false
		for _, a := range c.AdvertisedListeners {
			found = found || a.Name == proto
		}
		switch {
		case found:
		case byProto:
			fail("security.inter.broker.protocol", fmt.Sprintf("no listener named %s in %s; set inter.broker.listener.name", proto, advKey))
		default:
			// Kafka refuses this; with nothing configured we take the first
			// listener rather than fail a single-node start.
			c.InterBrokerListenerName = c.AdvertisedListeners[0].Name
		}
	}
	if len(errs) == 0 {
		errs = append(errs, c.checkInterBrokerSASL()...)
	}
	return errs
}

// checkInterBrokerSASL applies Kafka's rule: with SASL between brokers, the
// inter-broker mechanism must be enabled on the inter-broker listener.
func (c *Config) checkInterBrokerSASL() []error {
	ib := c.InterBrokerListener()
	if !strings.HasPrefix(ib.SecurityProtocol, "SASL_") {
		return nil
	}
	mech := c.Security.InterBrokerMechanism
	for _, m := range c.ListenerList(ib.Name, "sasl.enabled.mechanisms") {
		if m == mech {
			return nil
		}
	}
	return []error{&Error{Key: "sasl.mechanism.inter.broker.protocol", Value: mech,
		Reason: fmt.Sprintf("must be included in sasl.enabled.mechanisms of listener %s when SASL is used between brokers", ib.Name)}}
}
