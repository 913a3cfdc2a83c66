package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// loopbackMBps sends 256 KiB writes over one 127.0.0.1 TCP connection for d and returns
// MB/s (10^6 bytes) received.
func loopbackMBps(ctx context.Context, d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
		got <- n
	}()
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 256<<10)
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return 0, err
		}
	}
	c.Close()
	n := <-got
	el := time.Since(start)
	if n < 0 {
		return 0, fmt.Errorf("loopback receiver failed")
	}
	return float64(n) / 1e6 / el.Seconds(), nil
}

// diskWriteMBps writes n bytes sequentially in 1 MiB O_DIRECT writes (dd oflag=direct) to a
// file in dir and returns MB/s (10^6 bytes); falls back to buffered writes plus fsync when
// the filesystem refuses O_DIRECT.
func diskWriteMBps(dir string, n int64) (float64, bool, error) {
	path := filepath.Join(dir, "kbench-disk.tmp")
	defer os.Remove(path)
	direct := true
	f, err := openDirect(path)
	if err != nil {
		direct = false
		if f, err = os.Create(path); err != nil {
			return 0, false, err
		}
	}
	buf := alignedBuffer(1<<20, 4096)
	for i := range buf {
		buf[i] = byte(i * 31)
	}
	start := time.Now()
	for w := int64(0); w < n; w += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return 0, direct, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, direct, err
	}
	el := time.Since(start)
	if err := f.Close(); err != nil {
		return 0, direct, err
	}
	return float64(n) / 1e6 / el.Seconds(), direct, nil
}

// alignedBuffer returns size bytes starting at an address aligned to align (O_DIRECT needs it).
func alignedBuffer(size, align int) []byte {
	b := make([]byte, size+align)
	off := 0
	if rem := int(uintptrOf(b) % uintptr(align)); rem != 0 {
		off = align - rem
	}
	return b[off : off+size]
}
