package broker

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"time"

	"kbroker/log"
)

// regionCopyMax is the largest record set the writer copies into its buffer with one read
// instead of sending it with sendfile: below it, one write of the whole response costs less
// than a flush followed by a sendfile.
const regionCopyMax = 32 << 10

// outFrame is one response on its way to the client: frame bytes, and for a Fetch the
// record sets still in segment files, each followed by the frame bytes after it.
type outFrame struct {
	head    []byte
	regions []splicedRegion
	key     int16 // the request's API key (response send time metric)
}

// release lets go of the frame's regions once written (or dropped).
func (f *outFrame) release() {
	for i := range f.regions {
		f.regions[i].region.Release()
	}
}

func (c *conn) send(f outFrame) {
	select {
	case c.out <- f:
	case <-c.ctx.Done():
		f.release()
	}
}

func (c *conn) writeLoop() {
	w := &frameWriter{nc: c.nc, pool: &c.s.buffers}
	defer w.idle()
	m := c.s.metrics
	for f := range c.out {
		idle := len(c.out) == 0
		var start time.Time
		if m != nil {
			start = time.Now()
		}
		err := w.write(&f, idle)
		if m != nil {
			m.ResponseSent(f.key, time.Since(start).Seconds())
		}
		f.release()
		if err != nil {
			c.logger.Debug().Err(err).Msg("write failed; closing connection")
			c.close()
			break
		}
		if idle {
			w.idle()
		}
	}
	// Drain so the reader never blocks on a dead connection.
	for f := range c.out {
		f.release()
	}
}

// frameWriter writes response frames through a buffer, and record sets in segment files
// with sendfile when they are large. The buffer comes from the pool when a frame is written
// and goes back once everything is flushed (idle).
type frameWriter struct {
	nc   net.Conn
	pool *connBuffers // nil: bw is the writer's own
	bw   *bufio.Writer
}

// idle gives the buffer back to the pool; only call it after a successful flush or when the
// connection is done.
func (w *frameWriter) idle() {
	if w.pool != nil && w.bw != nil {
		w.bw.Reset(nil)
		w.pool.writers.Put(w.bw)
		w.bw = nil
	}
}

// write writes one frame, and flushes when flush is set (no other response is waiting).
func (w *frameWriter) write(f *outFrame, flush bool) error {
	if w.bw == nil {
		w.bw = w.pool.writer(w.nc)
	}
	if _, err := w.bw.Write(f.head); err != nil {
		return err
	}
	for i := range f.regions {
		if err := w.writeRegion(&f.regions[i].region); err != nil {
			return err
		}
		if _, err := w.bw.Write(f.regions[i].after); err != nil {
			return err
		}
	}
	if flush {
		return w.bw.Flush()
	}
	return nil
}

func (w *frameWriter) writeRegion(r *log.Region) error {
	n := int(r.Size)
	if r.Size <= regionCopyMax && n <= w.bw.Size() {
		if w.bw.Available() < n {
			if err := w.bw.Flush(); err != nil {
				return err
			}
		}
		buf := w.bw.AvailableBuffer()[:n]
		if m, err := r.File.ReadAt(buf, r.Pos); m < n {
			return fmt.Errorf("read %d of %d record bytes at position %d: %w", m, n, r.Pos, err)
		}
		_, err := w.bw.Write(buf)
		return err
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	sent, err := sendFile(w.nc, r)
	if err != nil || sent {
		return err
	}
	// No sendfile here (platform or file type): copy through the buffer.
	m, err := io.Copy(w.bw, io.NewSectionReader(r.File, r.Pos, r.Size))
	if err == nil && m < r.Size {
		err = fmt.Errorf("segment file shrank under a fetch: %d of %d record bytes at position %d", m, r.Size, r.Pos)
	}
	return err
}
