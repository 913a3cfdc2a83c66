package controller

import (
	"bufio"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/protocol"
	"kbroker/zkmeta"
)

// fakeBroker answers every request with an empty response and closes each
// connection after closeAfter requests; it counts connections.
type fakeBroker struct {
	ln         net.Listener
	conns      atomic.Int32
	closeAfter int
}

func startFakeBroker(t *testing.T, closeAfter int) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBroker{ln: ln, closeAfter: closeAfter}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			fb.conns.Add(1)
			go fb.serve(conn)
		}
	}()
	return fb
}

func (fb *fakeBroker) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for n := 0; n < fb.closeAfter; n++ {
		frame, err := protocol.ReadFrame(r, 1<<20, nil)
		if err != nil {
			return
		}
		h, _, err := protocol.ParseRequestHeader(frame)
		if err != nil {
			return
		}
		resp := kmsg.ResponseForKey(h.APIKey)
		resp.SetVersion(h.APIVersion)
		if _, err := conn.Write(protocol.AppendResponse(nil, h.CorrelationID, resp)); err != nil {
			return
		}
	}
}

func TestNetworkSender(t *testing.T) {
	fb := startFakeBroker(t, 2)
	addr := fb.ln.Addr().(*net.TCPAddr)
	to := zkmeta.BrokerInfo{ID: 5, Endpoints: []zkmeta.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: int32(addr.Port)}}}
	s := NewNetworkSender("controller-1", "", PlaintextDialer, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	send := func() error {
		req := kmsg.NewPtrUpdateMetadataRequest()
		req.SetVersion(updateMetadataVersion)
		resp, err := s.Send(ctx, to, req)
		if err == nil {
			if _, ok := resp.(*kmsg.UpdateMetadataResponse); !ok {
				t.Fatalf("response %T", resp)
			}
		}
		return err
	}
	// Two requests on one connection, which the broker then closes: the
	// next send fails or redials, and a later one succeeds on a new one.
	for i := 0; i < 2; i++ {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if n := fb.conns.Load(); n != 1 {
		t.Fatalf("%d connections for two requests, want 1", n)
	}
	eventually(t, "redial after the connection closed", func() error { return send() })
	if n := fb.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	if _, err := s.Send(ctx, zkmeta.BrokerInfo{ID: 6}, kmsg.NewPtrUpdateMetadataRequest()); err == nil {
		t.Fatal("send to a broker without endpoints succeeded")
	}
}
