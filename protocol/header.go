package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
)

// API keys with header quirks.
const (
	keyControlledShutdown int16 = 7
	keyAPIVersions        int16 = 18
)

// ErrUnknownAPIKey is wrapped by ParseRequestHeader when the API key is not
// one kmsg knows.
var ErrUnknownAPIKey = errors.New("protocol: unknown API key")

var errShortHeader = errors.New("protocol: truncated request header")

// RequestHeader is a parsed request header.
type RequestHeader struct {
	APIKey, APIVersion int16
	CorrelationID      int32
	ClientID           *string // nullable; always nil for header v0
	Version            int16   // header version used: 0, 1 or 2
}

// RequestHeaderVersion returns the request header version for (key, version):
// 2 when the request is flexible, 0 for ControlledShutdown v0, else 1. A
// version above kmsg's maximum for the key takes the flexibility of that
// maximum, so that a future ApiVersions request is still parsed with header
// v2. An unknown key gets 1.
func RequestHeaderVersion(key, version int16) int16 {
	switch {
	case key == keyControlledShutdown && version == 0:
		return 0
	case IsFlexible(key, version):
		return 2
	default:
		return 1
	}
}

// ResponseHeaderVersion returns the response header version for (key,
// version): 1 when flexible, except ApiVersions which always answers with
// header v0 (clients must be able to read it before knowing our versions);
// else 0.
func ResponseHeaderVersion(key, version int16) int16 {
	if key != keyAPIVersions && IsFlexible(key, version) {
		return 1
	}
	return 0
}

// ParseRequestHeader parses the request header at the start of a frame body
// and returns it with the rest of the frame (the request body). For an
// unknown API key, the header holds the key, version and correlation id and
// the error wraps ErrUnknownAPIKey (the body is then nil). A truncated or
// malformed header is an error. The client id is copied, so the header stays
// valid when the frame buffer is reused; tagged fields of header v2 are read
// and ignored.
func ParseRequestHeader(frame []byte) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < 8 {
		return h, nil, fmt.Errorf("%w: %d bytes", errShortHeader, len(frame))
	}
	h.APIKey = int16(binary.BigEndian.Uint16(frame[0:]))
	h.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]
	if !KnownAPIKey(h.APIKey) {
		h.Version = 1
		return h, nil, fmt.Errorf("%w: %d", ErrUnknownAPIKey, h.APIKey)
	}
	h.Version = RequestHeaderVersion(h.APIKey, h.APIVersion)
	if h.Version == 0 {
		return h, rest, nil
	}

	if len(rest) < 2 {
		return h, nil, fmt.Errorf("%w: no client id length", errShortHeader)
	}
	n := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	switch {
	case n == -1:
	case n < 0:
		return h, nil, fmt.Errorf("protocol: invalid client id length %d", n)
	case int(n) > len(rest):
		return h, nil, fmt.Errorf("%w: client id of %d bytes, %d left", errShortHeader, n, len(rest))
	default:
		id := string(rest[:n])
		h.ClientID = &id
		rest = rest[n:]
	}
	if h.Version < 2 {
		return h, rest, nil
	}
	rest, err := skipTaggedFields(rest)
	if err != nil {
		return h, nil, err
	}
	return h, rest, nil
}

// skipTaggedFields skips a KIP-482 tagged-field section: a uvarint count,
// then per field a uvarint tag, a uvarint size and the data.
func skipTaggedFields(b []byte) ([]byte, error) {
	count, n := kbin.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad tagged field count", errShortHeader)
	}
	b = b[n:]
	for i := uint32(0); i < count; i++ {
		_, n = kbin.Uvarint(b) // tag
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad tag", errShortHeader)
		}
		b = b[n:]
		size, n := kbin.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad tagged field size", errShortHeader)
		}
		b = b[n:]
		if uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field of %d bytes, %d left", errShortHeader, size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}
