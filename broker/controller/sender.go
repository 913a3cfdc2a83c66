package controller

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/protocol"
	"kbroker/zkmeta"
)

// Sender is how the controller reaches brokers. The broker passes
// NewNetworkSender; tests may pass their own. Send is called from the
// per-broker queue goroutines, concurrently for different brokers.
type Sender interface {
	Send(ctx context.Context, to zkmeta.BrokerInfo, req kmsg.Request) (kmsg.Response, error)
}

// Dialer opens an authenticated connection to a broker (the broker passes its inter-broker
// dialer, which speaks the inter-broker listener's security protocol).
type Dialer func(ctx context.Context, addr, clientID string) (*protocol.Client, error)

// PlaintextDialer dials without TLS or SASL.
func PlaintextDialer(ctx context.Context, addr, clientID string) (*protocol.Client, error) {
	return protocol.Dial(ctx, addr, clientID)
}

// networkSender keeps one protocol.Client per broker id.
type networkSender struct {
	clientID string
	listener string
	dial     Dialer
	logger   zerolog.Logger

	mu      sync.Mutex
	clients map[int32]*senderConn
}

type senderConn struct {
	addr   string
	client *protocol.Client
}

// NewNetworkSender returns a Sender over TCP: one protocol.Client per broker
// id, dialled with dial on first use at the broker's endpoint on listener (its
// first endpoint when it has none of that name) and dialled again after an
// error or when the endpoint changes.
func NewNetworkSender(clientID, listener string, dial Dialer, logger zerolog.Logger) Sender {
	return &networkSender{clientID: clientID, listener: listener, dial: dial, logger: logger, clients: map[int32]*senderConn{}}
}

// EndpointOn is a broker's endpoint on a listener, else its first endpoint.
func EndpointOn(b zkmeta.BrokerInfo, listener string) (zkmeta.Endpoint, bool) {
	if len(b.Endpoints) == 0 {
		return zkmeta.Endpoint{}, false
	}
	for _, e := range b.Endpoints {
		if e.Listener == listener {
			return e, true
		}
	}
	return b.Endpoints[0], true
}

var errNoEndpoint = errors.New("controller: broker has no endpoint")

func (s *networkSender) Send(ctx context.Context, to zkmeta.BrokerInfo, req kmsg.Request) (kmsg.Response, error) {
	ep, ok := EndpointOn(to, s.listener)
	if !ok {
		return nil, errNoEndpoint
	}
	addr := net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))
	c, err := s.client(ctx, to.ID, addr)
	if err != nil {
		return nil, err
	}
	resp, err := c.Request(ctx, req)
	if err != nil {
		s.drop(to.ID, c)
	}
	return resp, err
}

func (s *networkSender) client(ctx context.Context, id int32, addr string) (*protocol.Client, error) {
	s.mu.Lock()
	sc := s.clients[id]
	if sc != nil && sc.addr == addr && sc.client.Err() == nil {
		s.mu.Unlock()
		return sc.client, nil
	}
	delete(s.clients, id)
	s.mu.Unlock()
	if sc != nil {
		_ = sc.client.Close()
	}
	c, err := s.dial(ctx, addr, s.clientID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.clients[id]; old != nil {
		_ = old.client.Close()
	}
	s.clients[id] = &senderConn{addr: addr, client: c}
	s.logger.Debug().Int32("broker", id).Str("addr", addr).Msg("controller connected to broker")
	return c, nil
}

func (s *networkSender) drop(id int32, c *protocol.Client) {
	s.mu.Lock()
	if sc := s.clients[id]; sc != nil && sc.client == c {
		delete(s.clients, id)
	}
	s.mu.Unlock()
	_ = c.Close()
}
