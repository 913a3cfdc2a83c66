package broker

// IncrementalAlterConfigs (key 44), versions 0-1. kafka-configs.sh uses it for topics.
//
//   - Topic resources: SET, DELETE, and APPEND/SUBTRACT for list keys (cleanup.policy) applied to
//     the current overrides, then validated as a whole (INVALID_CONFIG naming the key).
//   - Broker resources: dynamic broker configuration is not supported (INVALID_REQUEST).
//   - A resource named twice in one request gets INVALID_REQUEST, as Kafka answers.
//   - validate_only checks and changes nothing.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleIncrementalAlterConfigs(rc *requestContext, req *kmsg.IncrementalAlterConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	type resKey struct {
		t kmsg.ConfigResourceType
		n string
	}
	seen := map[resKey]int{}
	for _, rr := range req.Resources {
		seen[resKey{rr.ResourceType, rr.ResourceName}]++
	}
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := rc.configResourceDenied(rr.ResourceType, rr.ResourceName, opAlterConfigs)
		switch {
		case err != nil:
		case seen[resKey{rr.ResourceType, rr.ResourceName}] > 1:
			err = fmt.Errorf("%w: resource %q named more than once", kerr.InvalidRequest, rr.ResourceName)
		case rr.ResourceType == kmsg.ConfigResourceTypeTopic:
			var next map[string]string
			if next, err = s.incrementalOverrides(rr.ResourceName, rr.Configs); err == nil {
				err = s.alterTopicConfig(rc.ctx(), rr.ResourceName, next, req.ValidateOnly)
			}
		case rr.ResourceType == kmsg.ConfigResourceTypeBroker, rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger:
			err = fmt.Errorf("%w: dynamic broker configuration is not supported; set it in server.properties", kerr.InvalidRequest)
		default:
			err = fmt.Errorf("%w: resource type %d", kerr.InvalidRequest, rr.ResourceType)
		}
		if err != nil {
			sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
			rc.conn.logger.Info().Err(err).Str("resource", rr.ResourceName).Msg("incremental alter configs refused")
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}
