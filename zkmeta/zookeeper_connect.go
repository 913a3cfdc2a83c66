package zkmeta

import (
	"fmt"
	"net"
	"strings"
)

// ParseConnect splits a zookeeper.connect string,
// "host:port,host:port/chroot", into its servers and its chroot ("" when
// none, or when the chroot is "/"). A server without a port gets 2181.
func ParseConnect(connect string) (servers []string, chroot string, err error) {
	hosts := connect
	if i := strings.IndexByte(connect, '/'); i >= 0 {
		hosts, chroot = connect[:i], connect[i:]
		if err := validatePath(chroot); err != nil {
			return nil, "", fmt.Errorf("%w: zookeeper.connect %q: chroot: %v", ErrBadArguments, connect, err)
		}
		if chroot == "/" {
			chroot = ""
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "2181")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return nil, "", fmt.Errorf("%w: zookeeper.connect %q: bad server %q", ErrBadArguments, connect, h)
		}
		servers = append(servers, h)
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("%w: zookeeper.connect %q has no server", ErrBadArguments, connect)
	}
	return servers, chroot, nil
}

// chrooted maps the paths of a store onto the paths of the ZooKeeper
// ensemble under a chroot, both ways.
type chrooted string

// server returns the ensemble's path for the store's path p.
func (c chrooted) server(p string) string {
	if c == "" {
		return p
	}
	if p == "/" {
		return string(c)
	}
	return string(c) + p
}

// client returns the store's path for the ensemble's path p (p itself if
// it is outside the chroot, which ZooKeeper never reports).
func (c chrooted) client(p string) string {
	if c == "" {
		return p
	}
	if p == string(c) {
		return "/"
	}
	if strings.HasPrefix(p, string(c)+"/") {
		return p[len(c):]
	}
	return p
}
