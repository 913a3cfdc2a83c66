package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/config"
	"kbroker/zkmeta"
)

// Dynamic broker configuration, stored as Kafka stores it: /config/brokers/<id> for one broker
// and /config/brokers/<default> for all, each write followed by a change notification under
// /config/changes (the embedded store keeps the same znodes on a single node). A broker reads
// both at start and again on every notification (configChangeLoop), and swaps its effective
// configuration (config.Dynamic); features that honour a dynamic key read it from
// s.config() and, when they keep derived state, register with onConfigChange.

// config is the effective configuration now, dynamic overrides included.
func (s *Server) config() *config.Config { return s.dyn.Current() }

// onConfigChange registers fn to run (on the goroutine that applied it) after every change of
// the effective configuration.
func (s *Server) onConfigChange(fn func(*config.Config)) {
	s.dynMu.Lock()
	s.dynHooks = append(s.dynHooks, fn)
	s.dynMu.Unlock()
}

// brokerEntity is the /config/brokers child for a BROKER resource name: "" is the cluster
// default, this broker's id its own entity; another id is INVALID_REQUEST, as Kafka answers
// (the admin client sends a broker's resource to that broker).
func (s *Server) brokerEntity(resource string) (string, error) {
	if resource == "" {
		return config.DefaultEntity, nil
	}
	id, err := strconv.ParseInt(resource, 10, 32)
	if err != nil || int32(id) != s.cfg.BrokerID {
		return "", fmt.Errorf("%w: Unexpected broker id, expected %d or empty string, but received %s", kerr.InvalidRequest, s.cfg.BrokerID, resource)
	}
	return resource, nil
}

// loadDynamicConfig reads both entities and applies them (at start, and on notifications).
func (s *Server) loadDynamicConfig(ctx context.Context) error {
	def, err := s.meta.Config(ctx, zkmeta.ConfigBrokers, config.DefaultEntity)
	if err != nil {
		return fmt.Errorf("reading dynamic default broker config: %w", err)
	}
	own, err := s.meta.Config(ctx, zkmeta.ConfigBrokers, strconv.Itoa(int(s.cfg.BrokerID)))
	if err != nil {
		return fmt.Errorf("reading dynamic broker config: %w", err)
	}
	s.applyDynamicConfig(s.decodePasswords(def), s.decodePasswords(own))
	return nil
}

// decodePasswords returns stored overrides with their password configs decrypted; one that
// cannot be decrypted (no secret, another secret) is left out with a warning, as Kafka does.
func (s *Server) decodePasswords(stored map[string]string) map[string]string {
	out := make(map[string]string, len(stored))
	var enc *config.PasswordEncoder
	for name, v := range stored {
		if !config.IsPassword(name) {
			out[name] = v
			continue
		}
		var err error
		if enc == nil {
			enc, err = s.cfg.PasswordEncoder()
		}
		if err == nil {
			v, err = enc.Decode(v)
		}
		if err != nil {
			s.logger.Warn().Str("config", name).Err(err).Msg("dynamic password config could not be decoded, ignoring")
			continue
		}
		out[name] = v
	}
	return out
}

// encodePasswords returns overrides as they are stored: password configs encrypted with
// password.encoder.secret, which must be set; the cluster default may hold none (Kafka's
// rules).
func (s *Server) encodePasswords(entity string, overrides map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(overrides))
	var enc *config.PasswordEncoder
	for name, v := range overrides {
		if !config.IsPassword(name) {
			out[name] = v
			continue
		}
		if entity == config.DefaultEntity {
			return nil, errors.New("Password config can be defined only at broker level")
		}
		var err error
		if enc == nil {
			if enc, err = s.cfg.PasswordEncoder(); err != nil {
				return nil, err
			}
		}
		if out[name], err = enc.Encode(v); err != nil {
			return nil, fmt.Errorf("encoding %s: %w", name, err)
		}
	}
	return out, nil
}

// applyDynamicConfig makes def and own the dynamic overrides in force, unless they already are.
func (s *Server) applyDynamicConfig(def, own map[string]string) {
	s.dynMu.Lock()
	defer s.dynMu.Unlock()
	curDef, curOwn := s.config().DynamicOverrides()
	if maps.Equal(curDef, def) && maps.Equal(curOwn, own) {
		// The same settings written again still reload key stores whose files changed.
		s.reloadListenerTLS(s.config())
		return
	}
	c, warnings, err := s.dyn.Apply(def, own)
	for _, w := range warnings {
		s.logger.Warn().Msg(string(w))
	}
	if err != nil {
		s.logger.Error().Err(err).Msg("dynamic broker config not applied: the result is not a valid configuration")
		return
	}
	s.logger.Info().Interface("cluster_default", hidePasswords(def)).Interface("broker", hidePasswords(own)).Msg("dynamic broker config changed")
	for _, fn := range s.dynHooks {
		fn(c)
	}
	s.reloadListenerTLS(c)
	s.reresolveTopics(c)
}

// reresolveTopics recomputes every topic's effective config after a change of the broker
// defaults it inherits (log.retention.ms and the other topic synonyms).
func (s *Server) reresolveTopics(c *config.Config) {
	for _, t := range s.cache.all() {
		tc, err := c.ResolveTopic(t.overrides)
		if err != nil || tc == t.config {
			continue
		}
		s.applyTopicConfig(t.name, t.overrides, tc)
	}
}

// alterBrokerConfig makes next the dynamic overrides of the entity of a BROKER resource, after
// validating them as Kafka does (INVALID_REQUEST "Invalid config value for resource ...").
func (s *Server) alterBrokerConfig(ctx context.Context, resource string, next map[string]string, validateOnly bool) error {
	entity, err := s.brokerEntity(resource)
	if err != nil {
		return err
	}
	invalid := func(err error) error {
		return fmt.Errorf("%w: Invalid config value for resource ConfigResource(type=BROKER, name='%s'): %v", kerr.InvalidRequest, resource, err)
	}
	if err := config.ValidateDynamic(next, entity != config.DefaultEntity); err != nil {
		return invalid(err)
	}
	def, own := s.config().DynamicOverrides()
	if entity == config.DefaultEntity {
		def = next
	} else {
		own = next
	}
	prospective, _, err := config.NewDynamic(s.cfg).Apply(def, own)
	if err != nil {
		return invalid(err)
	}
	if err := s.validateListenerTLS(prospective); err != nil {
		return invalid(err)
	}
	if err := s.validateCleanerReconfiguration(prospective); err != nil {
		return invalid(err)
	}
	stored, err := s.encodePasswords(entity, next)
	if err != nil {
		return invalid(err)
	}
	if validateOnly {
		return nil
	}
	if err := s.meta.SetConfig(ctx, zkmeta.ConfigBrokers, entity, stored); err != nil {
		return fmt.Errorf("writing dynamic broker config: %w", err)
	}
	s.applyDynamicConfig(def, own)
	return nil
}

// brokerOverrides returns the stored dynamic overrides of a BROKER resource's entity.
func (s *Server) brokerOverrides(ctx context.Context, resource string) (map[string]string, error) {
	entity, err := s.brokerEntity(resource)
	if err != nil {
		return nil, err
	}
	stored, err := s.meta.Config(ctx, zkmeta.ConfigBrokers, entity)
	if err != nil {
		return nil, err
	}
	return s.decodePasswords(stored), nil
}

// incrementalBrokerOverrides applies IncrementalAlterConfigs operations to a BROKER
// resource's stored overrides.
func (s *Server) incrementalBrokerOverrides(ctx context.Context, resource string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	cur, err := s.brokerOverrides(ctx, resource)
	if err != nil {
		return nil, err
	}
	next := maps.Clone(cur)
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
			if !isListKey(config.ScopeBroker, op.Name) {
				return nil, fmt.Errorf("%w: Invalid config value for resource ConfigResource(type=BROKER, name='%s'): %s is not a list config; APPEND and SUBTRACT apply to lists only", kerr.InvalidRequest, resource, op.Name)
			}
			base, ok := next[op.Name]
			if !ok {
				base = currentValue(s.config().DescribeBroker(), op.Name)
			}
			next[op.Name] = applyListOp(base, value, op.Op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return nil, fmt.Errorf("%w: unknown operation %d for %s", kerr.InvalidRequest, op.Op, op.Name)
		}
	}
	return next, nil
}

// currentValue is the value of name among entries, "" when it has none.
func currentValue(entries []config.Entry, name string) string {
	for _, e := range entries {
		if e.Name == name && e.Value != nil {
			return *e.Value
		}
	}
	return ""
}

// describeBroker answers DescribeConfigs for a BROKER resource: the cluster default ("") lists
// the dynamic defaults in force only, this broker's id every key (Kafka's ZooKeeper mode).
func (s *Server) describeBroker(resource string) ([]config.Entry, error) {
	entity, err := s.brokerEntity(resource)
	if err != nil {
		return nil, err
	}
	all := s.config().DescribeBroker()
	if entity != config.DefaultEntity {
		return all, nil
	}
	def, _ := s.config().DynamicOverrides()
	var out []config.Entry
	for _, e := range all {
		if _, ok := def[e.Name]; !ok {
			continue
		}
		e.Source = config.SourceDynamicDefaultBroker
		v := def[e.Name]
		if !e.Sensitive {
			e.Value = &v
		}
		var syns []config.Synonym
		for _, syn := range e.Synonyms {
			if syn.Source != config.SourceDynamicBroker {
				syns = append(syns, syn)
			}
		}
		e.Synonyms = syns
		out = append(out, e)
	}
	return out, nil
}

// reloadDynamicConfigSoon re-reads the dynamic broker config after a change notification.
func (s *Server) reloadDynamicConfigSoon() {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.loadDynamicConfig(ctx); err != nil && !errors.Is(err, context.Canceled) {
		s.logger.Warn().Err(err).Msg("reloading dynamic broker config")
	}
}

// hidePasswords is overrides fit for a log line: password values replaced by [hidden].
func hidePasswords(overrides map[string]string) map[string]string {
	out := make(map[string]string, len(overrides))
	for name, v := range overrides {
		if config.IsPassword(name) {
			v = "[hidden]"
		}
		out[name] = v
	}
	return out
}
