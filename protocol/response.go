package protocol

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AppendResponse appends a complete size-prefixed response frame to dst: the
// size, the correlation id, an empty tagged-field section when the response
// header is v1, then resp.AppendTo. The response's version must already be
// set (resp.SetVersion), as it picks both the header and the body encoding.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, filled in below
	dst = kbin.AppendInt32(dst, correlationID)
	if ResponseHeaderVersion(resp.Key(), resp.GetVersion()) == 1 {
		dst = append(dst, 0) // no tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// APIRange is one supported API: key and version range.
type APIRange struct{ Key, Min, Max int16 }

// AppendAPIVersionsUnsupported appends the complete response frame for an
// ApiVersions request at a version above the ones supported: a v0 response
// (header v0, correlation id only) with error UNSUPPORTED_VERSION (35) and
// apis as the supported list, so that the client can retry with a version it
// reads from that list. Kafka itself lists only the ApiVersions range here;
// the caller chooses.
func AppendAPIVersionsUnsupported(dst []byte, correlationID int32, apis []APIRange) []byte {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = make([]kmsg.ApiVersionsResponseApiKey, 0, len(apis))
	for _, a := range apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.Key, a.Min, a.Max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return AppendResponse(dst, correlationID, resp)
}
