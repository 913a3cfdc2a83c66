package broker

// DescribeConfigs (key 32), versions 0-4.
//
//   - Topic resources: every topic config with its value and source (DYNAMIC_TOPIC_CONFIG for
//     overrides, STATIC_BROKER_CONFIG when the broker synonym is set, DEFAULT_CONFIG otherwise),
//     synonyms when asked (v1+), type and documentation when asked (v3+). Unknown topic:
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - Broker resources: this broker's id: every known broker key, dynamic overrides shown with
//     DYNAMIC_BROKER_CONFIG / DYNAMIC_DEFAULT_BROKER_CONFIG sources (dynamic_config.go); "" (the
//     cluster default): the dynamic defaults in force only. Another broker id:
//     INVALID_REQUEST (it is not this broker).
//   - Broker logger resources: answered with no entries.
//   - v0 has is_default instead of a source.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/config"
)

func (s *Server) handleDescribeConfigs(rc *requestContext, req *kmsg.DescribeConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType = rr.ResourceType
		sr.ResourceName = rr.ResourceName
		var entries []config.Entry
		err := rc.configResourceDenied(rr.ResourceType, rr.ResourceName, opDescribeConfigs)
		switch {
		case err != nil:
		case rr.ResourceType == kmsg.ConfigResourceTypeTopic:
			t, ok := s.cache.topic(rr.ResourceName)
			if !ok {
				err = fmt.Errorf("%w: topic %q does not exist", kerr.UnknownTopicOrPartition, rr.ResourceName)
				break
			}
			entries = s.config().DescribeTopic(t.overrides)
		case rr.ResourceType == kmsg.ConfigResourceTypeBroker:
			entries, err = s.describeBroker(rr.ResourceName)
		case rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger:
		default:
			err = fmt.Errorf("%w: resource type %d", kerr.InvalidRequest, rr.ResourceType)
		}
		if err != nil {
			sr.ErrorCode = errorCode(err)
			sr.ErrorMessage = errorMessage(err)
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		sr.Configs = describeEntries(entries, rr.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

// describeEntries renders config entries, keeping only `names` when given.
func describeEntries(entries []config.Entry, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	var want map[string]bool
	if names != nil {
		want = make(map[string]bool, len(names))
		for _, n := range names {
			want[n] = true
		}
	}
	out := make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
	for _, e := range entries {
		if want != nil && !want[e.Name] {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Sensitive
		c.Source = kmsg.ConfigSource(e.Source)
		c.IsDefault = e.Source == int8(kmsg.ConfigSourceDefaultConfig)
		c.ConfigType = kmsg.ConfigType(e.Type)
		if docs && e.Doc != "" {
			d := e.Doc
			c.Documentation = &d
		}
		if synonyms {
			for _, syn := range e.Synonyms {
				cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				cs.Name, cs.Value, cs.Source = syn.Name, syn.Value, kmsg.ConfigSource(syn.Source)
				c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
			}
		}
		out = append(out, c)
	}
	return out
}
