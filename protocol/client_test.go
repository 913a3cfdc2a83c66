package protocol

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testServer is a tiny Kafka server: it decodes each request with kmsg and
// answers with what handle returns; answers may be delayed (hold) so that
// responses come back out of order.
type testServer struct {
	ln     net.Listener
	handle func(h RequestHeader, req kmsg.Request) (kmsg.Response, time.Duration)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	seen   []RequestHeader
}

func startTestServer(t *testing.T, handle func(h RequestHeader, req kmsg.Request) (kmsg.Response, time.Duration)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, handle: handle}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(conn)
	}
}

func (s *testServer) serve(conn net.Conn) {
	defer s.wg.Done()
	var wmu sync.Mutex
	var inflight sync.WaitGroup
	defer inflight.Wait()
	r := bufio.NewReader(conn)
	for {
		frame, err := ReadFrame(r, 1<<20, nil)
		if err != nil {
			return
		}
		h, body, err := ParseRequestHeader(frame)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, h)
		s.mu.Unlock()
		req := kmsg.RequestForKey(h.APIKey)
		req.SetVersion(h.APIVersion)
		if err := req.ReadFrom(body); err != nil {
			return
		}
		resp, hold := s.handle(h, req)
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			time.Sleep(hold)
			resp.SetVersion(h.APIVersion)
			wmu.Lock()
			defer wmu.Unlock()
			_, _ = conn.Write(AppendResponse(nil, h.CorrelationID, resp))
		}()
	}
}

func (s *testServer) headers() []RequestHeader {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestHeader(nil), s.seen...)
}

// echoTopic answers a Metadata request with one topic named like the
// requested one, so that each response can be told from the others.
func echoMetadata(req kmsg.Request) kmsg.Response {
	m := req.(*kmsg.MetadataRequest)
	resp := kmsg.NewPtrMetadataResponse()
	for _, t := range m.Topics {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = t.Topic
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func metadataRequest(version int16, topic string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(version)
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	return req
}

func TestClientVersions(t *testing.T) {
	srv := startTestServer(t, func(h RequestHeader, req kmsg.Request) (kmsg.Response, time.Duration) {
		switch r := req.(type) {
		case *kmsg.MetadataRequest:
			return echoMetadata(req), 0
		case *kmsg.ApiVersionsRequest:
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MaxVersion: 4}}
			return resp, 0
		case *kmsg.ControlledShutdownRequest:
			resp := kmsg.NewPtrControlledShutdownResponse()
			resp.PartitionsRemaining = []kmsg.ControlledShutdownResponsePartitionsRemaining{{Topic: "t", Partition: r.BrokerID}}
			return resp, 0
		}
		return nil, 0
	})
	ctx := context.Background()
	c, err := Dial(ctx, srv.ln.Addr().String(), "ctrl-1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	tests := []struct {
		name    string
		req     kmsg.Request
		headerV int16
		check   func(t *testing.T, resp kmsg.Response)
	}{
		{"metadata v1 (non-flexible)", metadataRequest(1, "a"), 1, func(t *testing.T, resp kmsg.Response) {
			if got := resp.(*kmsg.MetadataResponse).Topics[0].Topic; got == nil || *got != "a" {
				t.Fatalf("topic %v", got)
			}
		}},
		{"metadata v12 (flexible)", metadataRequest(12, "b"), 2, func(t *testing.T, resp kmsg.Response) {
			if got := resp.(*kmsg.MetadataResponse).Topics[0].Topic; got == nil || *got != "b" {
				t.Fatalf("topic %v", got)
			}
		}},
		{"api versions v3 (flexible request, v0 response header)", func() kmsg.Request {
			r := kmsg.NewPtrApiVersionsRequest()
			r.SetVersion(3)
			r.ClientSoftwareName, r.ClientSoftwareVersion = "kbroker", "1"
			return r
		}(), 2, func(t *testing.T, resp kmsg.Response) {
			if ks := resp.(*kmsg.ApiVersionsResponse).ApiKeys; len(ks) != 1 || ks[0].MaxVersion != 4 {
				t.Fatalf("api keys %+v", ks)
			}
		}},
		{"controlled shutdown v0 (header v0)", func() kmsg.Request {
			r := kmsg.NewPtrControlledShutdownRequest()
			r.SetVersion(0)
			r.BrokerID = 7
			return r
		}(), 0, func(t *testing.T, resp kmsg.Response) {
			if rem := resp.(*kmsg.ControlledShutdownResponse).PartitionsRemaining; len(rem) != 1 || rem[0].Partition != 7 {
				t.Fatalf("remaining %+v", rem)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Request(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetVersion() != tc.req.GetVersion() {
				t.Fatalf("response version %d, want %d", resp.GetVersion(), tc.req.GetVersion())
			}
			tc.check(t, resp)
			hs := srv.headers()
			h := hs[len(hs)-1]
			if h.Version != tc.headerV {
				t.Fatalf("request header v%d, want v%d", h.Version, tc.headerV)
			}
			if tc.headerV >= 1 && (h.ClientID == nil || *h.ClientID != "ctrl-1") {
				t.Fatalf("client id %v", h.ClientID)
			}
		})
	}
}

func TestClientPipelining(t *testing.T) {
	// Earlier requests are answered later: responses come back in reverse
	// order and must still reach their callers.
	srv := startTestServer(t, func(h RequestHeader, req kmsg.Request) (kmsg.Response, time.Duration) {
		topic := *req.(*kmsg.MetadataRequest).Topics[0].Topic
		hold := time.Duration(10-int(topic[0]-'0')) * 5 * time.Millisecond
		return echoMetadata(req), hold
	})
	ctx := context.Background()
	c, err := Dial(ctx, srv.ln.Addr().String(), "p")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		topic := string(rune('0' + i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Request(ctx, metadataRequest(9, topic))
			if err != nil {
				errs <- err
				return
			}
			if got := *resp.(*kmsg.MetadataResponse).Topics[0].Topic; got != topic {
				errs <- errors.New("got response for " + got + ", want " + topic)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(srv.headers()); n != 10 {
		t.Fatalf("server saw %d requests on the connection, want 10", n)
	}
}

func TestClientCancel(t *testing.T) {
	srv := startTestServer(t, func(h RequestHeader, req kmsg.Request) (kmsg.Response, time.Duration) {
		return echoMetadata(req), 300 * time.Millisecond
	})
	c, err := Dial(context.Background(), srv.ln.Addr().String(), "c")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Request(ctx, metadataRequest(4, "x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("cancel took %v", d)
	}
	// The connection is poisoned: later requests fail at once.
	if _, err := c.Request(context.Background(), metadataRequest(4, "y")); err == nil {
		t.Fatal("request on a poisoned connection succeeded")
	}
	if c.Err() == nil {
		t.Fatal("Err() is nil after a cancelled wait")
	}
}

func TestClientClosedAndBrokenConnection(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, c *Client, server net.Conn)
		want  error
	}{
		{"closed by us", func(t *testing.T, c *Client, _ net.Conn) { _ = c.Close() }, ErrClientClosed},
		{"closed by peer", func(t *testing.T, c *Client, server net.Conn) {
			_ = server.Close()
			deadline := time.Now().Add(2 * time.Second)
			for c.Err() == nil && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}, nil},
		{"unknown correlation id", func(t *testing.T, c *Client, server net.Conn) {
			resp := kmsg.NewPtrMetadataResponse()
			resp.SetVersion(1)
			go func() { _, _ = server.Write(AppendResponse(nil, 999, resp)) }()
			deadline := time.Now().Add(2 * time.Second)
			for c.Err() == nil && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer server.Close()
			c := NewClient(client, "x")
			defer c.Close()
			tc.setup(t, c, server)
			_, err := c.Request(context.Background(), metadataRequest(1, "a"))
			if err == nil {
				t.Fatal("request succeeded on a broken connection")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}
