package broker

// Listeners: each configured listener is bound at start, with its security protocol's TLS
// configuration and SASL mechanisms built once (package auth). Every advertised listener is
// registered in /brokers/ids/<id>; clients are answered with the endpoints of the listener
// they connected through, brokers reach each other on the inter-broker listener.

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"kbroker/broker/auth"
	"kbroker/broker/config"
	"kbroker/zkmeta"
)

// listenerState is one bound listener and what its connections need to authenticate.
type listenerState struct {
	name     string // listener name, e.g. PLAINTEXT, SASL_SSL, INTERNAL
	protocol string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	ln       net.Listener
	// tls (SSL and SASL_SSL) hands each handshake the configuration in force, which a
	// dynamic key store update replaces (listener_tls.go).
	tls      *tls.Config
	tlsState atomic.Pointer[listenerTLS]
	sasl     *auth.SASL // SASL_PLAINTEXT and SASL_SSL
	mapper   *auth.PrincipalMapper
}

// listenerGetter reads a listener's settings in c (listener.name.<l>.<key>, else <key>).
func listenerGetter(c *config.Config, name string) auth.Getter {
	return func(key string) (string, bool) { return c.ListenerValue(name, key) }
}

// security builds a listener's TLS configuration and SASL mechanisms, with the dynamic
// settings in force.
func (s *Server) security(l config.Listener) (*listenerState, error) {
	c := s.config()
	g := listenerGetter(c, l.Name)
	ls := &listenerState{name: l.Name, protocol: l.SecurityProtocol}
	var err error
	if l.SecurityProtocol == "SSL" || l.SecurityProtocol == "SASL_SSL" {
		st, err := buildListenerTLS(c, l.Name)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		ls.tlsState.Store(st)
		ls.tls = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return ls.tlsState.Load().cfg, nil
		}}
		rules, _ := g("ssl.principal.mapping.rules")
		if ls.mapper, err = auth.NewPrincipalMapper(rules); err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
	}
	if strings.HasPrefix(l.SecurityProtocol, "SASL_") {
		if ls.sasl, err = auth.NewSASL(g, s.creds); err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
	}
	return ls, nil
}

func (s *Server) listen() error {
	var lns []*listenerState
	fail := func(err error) error {
		for _, prev := range lns {
			prev.ln.Close()
		}
		return err
	}
	for _, l := range s.cfg.Listeners {
		ls, err := s.security(l)
		if err != nil {
			return fail(err)
		}
		addr := net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
		if ls.ln, err = net.Listen("tcp", addr); err != nil {
			return fail(fmt.Errorf("listener %s://%s: %w", l.Name, addr, err))
		}
		lns = append(lns, ls)
	}
	s.lns = lns
	for _, ls := range lns {
		s.listeners = append(s.listeners, ls.ln)
	}
	return nil
}

// boundPort is the port a listener is bound to (resolving port 0).
func (s *Server) boundPort(name string, configured int) int {
	if configured != 0 {
		return configured
	}
	for _, ls := range s.lns {
		if ls.name == name {
			if ta, ok := ls.ln.Addr().(*net.TCPAddr); ok {
				return ta.Port
			}
		}
	}
	return configured
}

// endpoints are the advertised listeners with bound ports and a routable host.
func (s *Server) endpoints() []zkmeta.Endpoint {
	l := s.cfg.AdvertisedListeners
	if len(l) == 0 {
		l = s.cfg.Listeners
	}
	out := make([]zkmeta.Endpoint, 0, len(l))
	for _, a := range l {
		host := a.Host
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
		out = append(out, zkmeta.Endpoint{Listener: a.Name, SecurityProtocol: a.SecurityProtocol, Host: host,
			Port: int32(s.boundPort(a.Name, a.Port))})
	}
	return out
}

// advertised returns the host and port other brokers should use: the inter-broker
// listener's advertised endpoint.
func (s *Server) advertised() (string, int32) {
	eps := s.endpoints()
	for _, e := range eps {
		if e.Listener == s.cfg.InterBrokerListenerName {
			return e.Host, e.Port
		}
	}
	return eps[0].Host, eps[0].Port
}

// selfMeta is this broker as the metadata cache holds it (single-node mode).
func (s *Server) selfMeta() brokerMeta {
	host, port := s.advertised()
	b := brokerMeta{id: s.cfg.BrokerID, host: host, port: port}
	if s.cfg.BrokerRack != "" {
		rack := s.cfg.BrokerRack
		b.rack = &rack
	}
	for _, e := range s.endpoints() {
		b.eps = append(b.eps, brokerEndpoint{listener: e.Listener, host: e.Host, port: e.Port})
	}
	return b
}

func (s *Server) brokerInfo() zkmeta.BrokerInfo {
	return zkmeta.BrokerInfo{ID: s.cfg.BrokerID, Rack: s.cfg.BrokerRack, Endpoints: s.endpoints()}
}
