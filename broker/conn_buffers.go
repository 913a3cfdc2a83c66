package broker

import (
	"bufio"
	"io"
	"net"
	"sync"
)

// connBufferSize is the size of a connection's read and write buffers.
const connBufferSize = 64 << 10

// connBuffers pools the connections' read and write buffers: a connection holds a buffer only
// while it has bytes in flight, so an idle connection costs its two goroutines and little more.
type connBuffers struct {
	readers sync.Pool // *bufio.Reader
	writers sync.Pool // *bufio.Writer
}

func (b *connBuffers) reader(r io.Reader) *bufio.Reader {
	if br, ok := b.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, connBufferSize)
}

func (b *connBuffers) writer(w io.Writer) *bufio.Writer {
	if bw, ok := b.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, connBufferSize)
}

// lazyReader reads a connection through a pooled buffer that it holds only between the start
// of a request and the moment nothing is buffered any more. While the connection is idle it
// has no buffer: the wait for the next request's size prefix reads the socket directly.
type lazyReader struct {
	nc   net.Conn
	pool *connBuffers
	br   *bufio.Reader
}

// Read reads through the buffer once a request has started. Without a buffer, a read of a
// few bytes (a size prefix) goes to the socket; a longer one takes a buffer first, so that
// small pipelined requests still arrive in one system call.
func (r *lazyReader) Read(p []byte) (int, error) {
	if r.br == nil {
		if len(p) <= 8 {
			return r.nc.Read(p)
		}
		r.br = r.pool.reader(r.nc)
	}
	return r.br.Read(p)
}

// idle gives the buffer back when nothing is buffered in it.
func (r *lazyReader) idle() {
	if r.br != nil && r.br.Buffered() == 0 {
		r.br.Reset(nil)
		r.pool.readers.Put(r.br)
		r.br = nil
	}
}
