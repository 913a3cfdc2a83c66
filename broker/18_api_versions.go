package broker

// ApiVersions (key 18), versions 0-4.
//
// The response header is always v0 (protocol.ResponseHeaderVersion). A request at a version
// above 4 never reaches this handler: conn.handleFrame answers it in v0 format with
// UNSUPPORTED_VERSION and the supported list, so the client retries with our maximum.
// v3+ carries the client software name and version, validated with Kafka's pattern; a bad
// one gets INVALID_REQUEST (Kafka's answer) instead of a closed connection.

import (
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var softwareNamePattern = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func (s *Server) handleApiVersions(rc *requestContext, req *kmsg.ApiVersionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if rc.version() >= 3 && (!softwareNamePattern.MatchString(req.ClientSoftwareName) || !softwareNamePattern.MatchString(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
	}
	for _, r := range s.protocolRanges() {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = r.Key, r.Min, r.Max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp, nil
}
