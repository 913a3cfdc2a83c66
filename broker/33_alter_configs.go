package broker

// AlterConfigs (key 33), versions 0-2: the legacy, replace-everything form. kafka-configs.sh
// (3.x) uses it for brokers.
//
//   - Topic resources: the given entries become the topic's whole set of overrides (entries with
//     a null value are dropped), validated first (INVALID_CONFIG naming the key).
//   - Broker resources (this broker's id, or "" for the cluster default): the given entries
//     become the entity's whole set of dynamic overrides, validated as Kafka validates them
//     (dynamic_config.go; INVALID_REQUEST "Invalid config value for resource ..."). Broker
//     logger resources: INVALID_REQUEST.
//   - validate_only checks and changes nothing.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleAlterConfigs(rc *requestContext, req *kmsg.AlterConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := rc.configResourceDenied(rr.ResourceType, rr.ResourceName, opAlterConfigs)
		switch {
		case err != nil:
		case rr.ResourceType == kmsg.ConfigResourceTypeTopic:
			next := make(map[string]string, len(rr.Configs))
			for _, c := range rr.Configs {
				if c.Value != nil {
					next[c.Name] = *c.Value
				}
			}
			err = s.alterTopicConfig(rc.ctx(), rr.ResourceName, next, req.ValidateOnly)
		case rr.ResourceType == kmsg.ConfigResourceTypeBroker:
			next := make(map[string]string, len(rr.Configs))
			for _, c := range rr.Configs {
				if c.Value != nil {
					next[c.Name] = *c.Value
				}
			}
			err = s.alterBrokerConfig(rc.ctx(), rr.ResourceName, next, req.ValidateOnly)
		case rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger:
			err = fmt.Errorf("%w: changing log levels at run time is not supported; set BROKER_LOG_LEVEL", kerr.InvalidRequest)
		default:
			err = fmt.Errorf("%w: resource type %d", kerr.InvalidRequest, rr.ResourceType)
		}
		if err != nil {
			sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
			rc.conn.logger.Info().Err(err).Str("resource", rr.ResourceName).Msg("alter configs refused")
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}
