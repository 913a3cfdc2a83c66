package broker

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"kbroker/protocol"
)

func frameOf(body string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// TestLazyReaderHoldsBufferOnlyWhileBusy: a connection's read buffer is taken for a request
// and given back once nothing is buffered; pipelined requests keep it until the last is read.
func TestLazyReaderHoldsBufferOnlyWhileBusy(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	var pool connBuffers
	r := &lazyReader{nc: server, pool: &pool}
	go func() {
		client.Write(frameOf("first request body"))
		// Two pipelined requests in one write.
		client.Write(append(frameOf("second request body"), frameOf("third request body")...))
	}()
	want := []string{"first request body", "second request body", "third request body"}
	held := []bool{false, true, false} // buffer still held after reading each (and calling idle)
	for i, w := range want {
		frame, err := protocol.ReadFrame(r, 1<<20, nil)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(frame) != w {
			t.Fatalf("frame %d = %q, want %q", i, frame, w)
		}
		r.idle()
		if (r.br != nil) != held[i] {
			t.Fatalf("after frame %d: buffer held %v, want %v", i, r.br != nil, held[i])
		}
	}
}

// TestFrameWriterGivesBufferBack: the write buffer is taken for a frame and returned after
// the flush, and a frame written later still arrives whole.
func TestFrameWriterGivesBufferBack(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	var pool connBuffers
	w := &frameWriter{nc: server, pool: &pool}
	for i := 0; i < 2; i++ {
		payload := bytes.Repeat([]byte{byte('a' + i)}, 100)
		done := make(chan error, 1)
		go func() { done <- w.write(&outFrame{head: payload}, true) }()
		got := make([]byte, len(payload))
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("write %d: got %q", i, got)
		}
		w.idle()
		if w.bw != nil {
			t.Fatalf("write %d: buffer still held after idle", i)
		}
	}
}
