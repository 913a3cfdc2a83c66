package broker

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"kbroker/log"
)

// sendFile sends a region of a segment file to the connection with sendfile(2): the bytes
// go from the page cache to the socket without passing through the broker's memory. sent is
// false when either end has no file descriptor to use (then the caller copies). A file that
// shrank under the fetch (a truncation) is an error: the frame cannot be completed, and the
// connection is closed, as Kafka does.
func sendFile(nc net.Conn, r *log.Region) (sent bool, err error) {
	dst, ok := nc.(syscall.Conn)
	if !ok {
		return false, nil
	}
	src, ok := r.File.(syscall.Conn)
	if !ok {
		return false, nil
	}
	draw, err := dst.SyscallConn()
	if err != nil {
		return false, nil
	}
	sraw, err := src.SyscallConn()
	if err != nil {
		return false, nil
	}
	off, remain := r.Pos, r.Size
	var sendErr error
	ctlErr := sraw.Control(func(sfd uintptr) {
		werr := draw.Write(func(dfd uintptr) bool {
			for remain > 0 {
				n, err := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(remain, 1<<30)))
				if n > 0 {
					remain -= int64(n)
				}
				switch {
				case errors.Is(err, syscall.EAGAIN):
					return false // wait until the socket is writable (honours the write deadline)
				case errors.Is(err, syscall.EINTR):
				case err != nil:
					sendErr = err
					return true
				case n == 0:
					sendErr = fmt.Errorf("segment file shrank under a fetch: %d record bytes missing at position %d", remain, off)
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = werr
		}
	})
	if ctlErr != nil {
		return true, ctlErr
	}
	return true, sendErr
}
