package broker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/broker/quota"
	"kbroker/zkmeta"
)

// Client quotas (Kafka's ClientQuotaManager, ControllerMutationQuotaManager): producer and
// consumer byte rates, request handler time in percent of a thread, and partition mutations
// per second, per user principal and client id, stored in /config/users and /config/clients
// and applied on every broker as they change (the change notifications of /config/changes).
// A client over its quota gets throttle_time_ms in its responses and its connection is not read
// from for that long (KIP-219); a throttled fetch is answered without records.

// anonymous is the principal of a connection without authentication (Kafka's ANONYMOUS user).
const anonymous = "ANONYMOUS"

// quotaKeys are the keys a user or client-id entity may have, and whether they are integers
// (LONG in Kafka's QuotaConfigs) or decimals (DOUBLE).
var quotaKeys = map[string]bool{
	quota.ProducerByteRate:       true,
	quota.ConsumerByteRate:       true,
	quota.RequestPercentage:      false,
	quota.ControllerMutationRate: false,
}

// loadQuotas reads every quota entity from the store (at start, and on change notifications).
func (s *Server) loadQuotas(ctx context.Context) error {
	entities, err := s.meta.QuotaEntities(ctx)
	if err != nil {
		return fmt.Errorf("reading client quotas: %w", err)
	}
	all := map[quota.Entity]map[string]float64{}
	for _, e := range entities {
		raw, err := s.meta.QuotaConfig(ctx, e)
		if errors.Is(err, zkmeta.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading client quotas: %w", err)
		}
		if vals := parseQuotas(raw); len(vals) > 0 {
			all[e] = vals
		}
	}
	s.quotas.Set(all)
	s.mutationQuotas.Set(all)
	return nil
}

// parseQuotas keeps the quota keys of an entity's stored configs (a user's znode also holds
// its SCRAM credentials).
func parseQuotas(raw map[string]string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range raw {
		if _, ok := quotaKeys[k]; !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
			out[k] = f
		}
	}
	return out
}

// reloadQuotas re-reads the quotas after a change notification.
func (s *Server) reloadQuotas() {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.loadQuotas(ctx); err != nil && s.ctx.Err() == nil {
		s.logger.Warn().Err(err).Msg("reloading client quotas")
	}
}

// principal is the user a connection's quotas are looked up for: the name of its principal
// (ANONYMOUS without authentication).
func (rc *requestContext) principal() string { return strings.TrimPrefix(rc.conn.principal, "User:") }

// throttleFor records value against the client's quota of kind and raises the request's
// throttle time accordingly.
func (rc *requestContext) throttleFor(q *quota.Clients, kind string, value float64, now time.Time) time.Duration {
	d := q.Record(kind, rc.principal(), clientID(rc.hdr), value, now)
	rc.throttle = max(rc.throttle, d)
	return d
}

// quotaWindowBytes bounds what one fetch may return to a consumer with a byte-rate quota: the
// quota's worth over the measured window (Kafka's getMaxValueInQuotaWindow).
func (s *Server) quotaWindowBytes(rc *requestContext) int {
	bound, ok := s.quotas.Quota(quota.ConsumerByteRate, rc.principal(), clientID(rc.hdr))
	if !ok {
		return math.MaxInt32
	}
	c := s.config()
	window := float64(max(c.QuotaWindowNum-1, 1) * c.QuotaWindowSizeSeconds)
	return int(min(bound*window, math.MaxInt32))
}

// validateQuotaValue checks one AlterClientQuotas value the way Kafka does.
func validateQuotaValue(key string, v float64) error {
	long, ok := quotaKeys[key]
	if !ok {
		return fmt.Errorf("%w: Invalid configuration key %s", kerr.InvalidRequest, key)
	}
	if long && (v < 0 || v != math.Trunc(v) || v > math.MaxInt64) {
		return fmt.Errorf("%w: Configuration %s must be a LONG value", kerr.InvalidRequest, key)
	}
	if !long && (v < 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
		return fmt.Errorf("%w: Configuration %s must be a non-negative DOUBLE value", kerr.InvalidRequest, key)
	}
	return nil
}

// quotaExempt lists the requests the request quota does not meter: those between brokers and
// those a client needs before it can be told it is throttled (Kafka's exempt APIs).
func quotaExempt(key int16) bool {
	switch key {
	case 4, 5, 6, 7, 17, 18, 36, 56, 67: // LeaderAndIsr, StopReplica, UpdateMetadata, ControlledShutdown, SaslHandshake, ApiVersions, SaslAuthenticate, AlterPartition, AllocateProducerIds
		return true
	}
	return false
}

// meterRequest records the handler's working time against the client's request_percentage
// quota (the time in percent of one thread).
func (s *Server) meterRequest(rc *requestContext, started time.Time) {
	if rc.replica || quotaExempt(rc.hdr.APIKey) {
		return
	}
	now := time.Now()
	busy := now.Sub(started) - rc.waited
	rc.throttleFor(s.quotas, quota.RequestPercentage, max(busy, 0).Seconds()*100, now)
}

// admitMutation meters partitions created or deleted against the client's
// controller_mutation_rate (KIP-599). A strict request (CreateTopics v6+, CreatePartitions
// v3+, DeleteTopics v5+) is refused with THROTTLING_QUOTA_EXCEEDED while the client is over its
// quota; an older one goes ahead and is throttled afterwards.
func (s *Server) admitMutation(rc *requestContext, strict bool, partitions int) error {
	now := time.Now()
	if strict {
		if d := s.mutationQuotas.Check(quota.ControllerMutationRate, rc.principal(), clientID(rc.hdr), now); d > 0 {
			rc.throttle = max(rc.throttle, d)
			return fmt.Errorf("%w: controller_mutation_rate exceeded; retry in %v", kerr.ThrottlingQuotaExceeded, d.Round(time.Millisecond))
		}
	}
	rc.throttleFor(s.mutationQuotas, quota.ControllerMutationRate, float64(partitions), now)
	return nil
}
