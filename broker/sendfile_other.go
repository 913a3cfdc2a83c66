//go:build !linux

package broker

import (
	"net"

	"kbroker/log"
)

// sendFile has no zero-copy path on this platform: the writer copies.
func sendFile(net.Conn, *log.Region) (bool, error) { return false, nil }
