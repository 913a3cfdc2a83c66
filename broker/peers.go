package broker

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/protocol"
)

// peers keeps one connection to each other broker for the requests this broker makes of
// its own accord (transaction markers to partition leaders, transaction verification with
// a coordinator). A connection is dialled on first use and again after it breaks or the
// broker's address changes. Safe for concurrent use; requests to one broker are pipelined
// on its connection.
type peers struct {
	s     *Server
	mu    sync.Mutex
	conns map[int32]*peerConn
}

type peerConn struct {
	addr   string
	client *protocol.Client
}

func newPeers(s *Server) *peers { return &peers{s: s, conns: map[int32]*peerConn{}} }

// request sends req (its version set) to broker id and returns the answer.
func (ps *peers) request(ctx context.Context, id int32, req kmsg.Request) (kmsg.Response, error) {
	addr, ok := ps.s.brokerAddr(id)
	if !ok {
		return nil, fmt.Errorf("%w: broker %d is not known", kerr.BrokerNotAvailable, id)
	}
	ps.mu.Lock()
	pc := ps.conns[id]
	if pc == nil || pc.addr != addr || pc.client.Err() != nil {
		if pc != nil {
			pc.client.Close()
		}
		ps.mu.Unlock()
		c, err := protocol.Dial(ctx, addr, fmt.Sprintf("broker-%d", ps.s.cfg.BrokerID))
		if err != nil {
			return nil, err
		}
		ps.mu.Lock()
		if cur := ps.conns[id]; cur != nil && cur.addr == addr && cur.client.Err() == nil {
			c.Close() // another caller dialled meanwhile
		} else {
			if cur != nil {
				cur.client.Close()
			}
			ps.conns[id] = &peerConn{addr: addr, client: c}
		}
		pc = ps.conns[id]
	}
	c := pc.client
	ps.mu.Unlock()
	return c.Request(ctx, req)
}

// close ends every connection.
func (ps *peers) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for id, pc := range ps.conns {
		pc.client.Close()
		delete(ps.conns, id)
	}
}
