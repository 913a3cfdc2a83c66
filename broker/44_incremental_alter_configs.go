package broker

// IncrementalAlterConfigs (key 44), versions 0-1. kafka-configs.sh uses it for topics.
//
//   - Topic resources: SET, DELETE, and APPEND/SUBTRACT for list keys (cleanup.policy) applied to
//     the current overrides, then validated as a whole (INVALID_CONFIG naming the key).
//   - Broker resources (this broker's id, or "" for the cluster default): the operations apply
//     to the entity's stored dynamic overrides, then validated and written like AlterConfigs.
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
		case rr.ResourceType == kmsg.ConfigResourceTypeBroker:
			var next map[string]string
			if next, err = s.incrementalBrokerOverrides(rc.ctx(), rr.ResourceName, rr.Configs); err == nil {
				err = s.alterBrokerConfig(rc.ctx(), rr.ResourceName, next, req.ValidateOnly)
			}
		case rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger:
			err = fmt.Errorf("%w: changing log levels at run time is not supported; set BROKER_LOG_LEVEL", kerr.InvalidRequest)
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
