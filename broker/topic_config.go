package broker

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/config"
)

// Topic configuration changes (AlterConfigs, IncrementalAlterConfigs). The new overrides are
// validated as a whole, written to /config/topics/<t> (with a change notification), then
// published to the metadata cache and the hosted partitions.
//
// Every change applies at once to the hosted partitions, as in Kafka: the log settings
// (segment.bytes, segment.ms, index.interval.bytes, flush.messages, file.delete.delay.ms;
// segment.index.bytes for segments rolled from then on) through Log.Reconfigure, the others
// (retention, cleanup.policy, the cleaner's keys, max.message.bytes, message.timestamp.type,
// min.insync.replicas) because every user reads the partition's configuration when it acts.

// alterTopicConfig replaces a topic's overrides with `next` after validating them.
func (s *Server) alterTopicConfig(ctx context.Context, name string, next map[string]string, validateOnly bool) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if _, ok := s.cache.topic(name); !ok {
		return fmt.Errorf("%w: topic %q does not exist", kerr.UnknownTopicOrPartition, name)
	}
	tc, err := s.config().ResolveTopic(next)
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if err := s.meta.SetTopicConfig(ctx, name, next); err != nil {
		return fmt.Errorf("writing config of topic %q: %w", name, err)
	}
	s.applyTopicConfig(name, next, tc)
	return nil
}

// applyTopicConfig publishes a topic's new overrides to the cache and its hosted partitions.
func (s *Server) applyTopicConfig(name string, overrides map[string]string, tc config.TopicConfig) {
	var nt topicMeta
	for {
		t, ok := s.cache.topic(name)
		if !ok {
			return
		}
		nt = *t
		nt.overrides, nt.config = overrides, tc
		if s.cache.swap(t, &nt) {
			break
		}
	}
	for i := range nt.partitions {
		if p, ok := s.rm.get(name, int32(i)); ok {
			cfg := tc
			p.cfg.Store(&cfg)
			p.log.Reconfigure(topicLogOptions(tc))
		}
	}
	s.logger.Info().Str("topic", name).Interface("config", overrides).Msg("topic config changed")
}

// incrementalOverrides applies IncrementalAlterConfigs operations to a copy of the current
// overrides: SET, DELETE, and APPEND/SUBTRACT for list-typed keys.
func (s *Server) incrementalOverrides(name string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	t, ok := s.cache.topic(name)
	if !ok {
		return nil, fmt.Errorf("%w: topic %q does not exist", kerr.UnknownTopicOrPartition, name)
	}
	next := make(map[string]string, len(t.overrides)+len(ops))
	for k, v := range t.overrides {
		next[k] = v
	}
	effective := map[string]string{}
	for _, e := range s.config().DescribeTopic(t.overrides) {
		if e.Value != nil {
			effective[e.Name] = *e.Value
		}
	}
	for _, op := range ops {
		value := ""
		if op.Value != nil {
			value = *op.Value
		}
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			next[op.Name] = value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if !isListKey(config.ScopeTopic, op.Name) {
				return nil, fmt.Errorf("%w: %s is not a list config; APPEND and SUBTRACT apply to lists only", kerr.InvalidConfig, op.Name)
			}
			cur, ok := next[op.Name]
			if !ok {
				cur = effective[op.Name]
			}
			next[op.Name] = applyListOp(cur, value, op.Op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return nil, fmt.Errorf("%w: unknown operation %d for %s", kerr.InvalidRequest, op.Op, op.Name)
		}
	}
	return next, nil
}

// isListKey reports whether name is a list-typed key of scope (APPEND and SUBTRACT apply).
func isListKey(scope config.Scope, name string) bool {
	for _, k := range config.Keys() {
		if k.Scope == scope && k.Name == name {
			return k.Type == config.TypeList
		}
	}
	return false
}

// applyListOp appends the items of v missing from cur, or removes those present.
func applyListOp(cur, v string, appendItems bool) string {
	split := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	items := split(cur)
	for _, x := range split(v) {
		idx := -1
		for i, y := range items {
			if y == x {
				idx = i
				break
			}
		}
		switch {
		case appendItems && idx < 0:
			items = append(items, x)
		case !appendItems && idx >= 0:
			items = append(items[:idx], items[idx+1:]...)
		}
	}
	return strings.Join(items, ",")
}
