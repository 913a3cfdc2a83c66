package broker

// AlterClientQuotas (key 49), versions 0-1 (kafka-configs.sh --entity-type users/clients,
// kadm): sets or removes producer_byte_rate, consumer_byte_rate, request_percentage and
// controller_mutation_rate of a user, a client id, or a user and client id (a null name is the
// default), stored in /config/users and /config/clients as Kafka stores them and applied on
// every broker (client_quotas.go).
//
//   - Per entry: an entity with an unknown or repeated type, or an ip entity (connection
//     creation quotas are not supported), is INVALID_REQUEST; an unknown key is INVALID_REQUEST
//     "Invalid configuration key ..."; a byte rate that is negative or not an integer
//     INVALID_REQUEST "Configuration ... must be a LONG value" (Kafka's answers).
//   - validate_only checks and changes nothing.

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/quota"
)

// Quota entity types (Kafka's ClientQuotaEntity).
const (
	quotaEntityUser   = "user"
	quotaEntityClient = "client-id"
	quotaEntityIP     = "ip"
)

func (s *Server) handleAlterClientQuotas(rc *requestContext, req *kmsg.AlterClientQuotasRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	changed := false
	for _, entry := range req.Entries {
		out := kmsg.NewAlterClientQuotasResponseEntry()
		for _, e := range entry.Entity {
			oe := kmsg.NewAlterClientQuotasResponseEntryEntity()
			oe.Type, oe.Name = e.Type, e.Name
			out.Entity = append(out.Entity, oe)
		}
		err := error(kerr.ClusterAuthorizationFailed)
		if rc.authorizeCluster(opAlterConfigs) {
			err = s.alterClientQuota(rc.ctx(), entry, req.ValidateOnly)
		}
		if err != nil {
			out.ErrorCode, out.ErrorMessage = errorCode(err), errorMessage(err)
			rc.conn.logger.Info().Err(err).Msg("alter client quotas refused")
		} else if !req.ValidateOnly {
			changed = true
		}
		resp.Entries = append(resp.Entries, out)
	}
	if changed {
		if err := s.loadQuotas(rc.ctx()); err != nil {
			rc.conn.logger.Warn().Err(err).Msg("reloading client quotas")
		}
	}
	return resp, nil
}

// quotaEntity turns a request's entity components into an entity.
func quotaEntity(parts []kmsg.AlterClientQuotasRequestEntryEntity) (quota.Entity, error) {
	var e quota.Entity
	if len(parts) == 0 {
		return e, fmt.Errorf("%w: Invalid empty client quota entity", kerr.InvalidRequest)
	}
	for _, p := range parts {
		switch p.Type {
		case quotaEntityUser:
			if e.HasUser {
				return e, fmt.Errorf("%w: Duplicate user entity in %v", kerr.InvalidRequest, parts)
			}
			e.HasUser = true
			if p.Name == nil {
				e.UserDefault = true
			} else {
				e.User = *p.Name
			}
		case quotaEntityClient:
			if e.HasClient {
				return e, fmt.Errorf("%w: Duplicate client-id entity in %v", kerr.InvalidRequest, parts)
			}
			e.HasClient = true
			if p.Name == nil {
				e.ClientDefault = true
			} else {
				e.Client = *p.Name
			}
		case quotaEntityIP:
			return e, fmt.Errorf("%w: ip entities (connection_creation_rate) are not supported", kerr.InvalidRequest)
		default:
			return e, fmt.Errorf("%w: Unhandled client quota entity type: %s", kerr.InvalidRequest, p.Type)
		}
	}
	return e, nil
}

func (s *Server) alterClientQuota(ctx context.Context, entry kmsg.AlterClientQuotasRequestEntry, validateOnly bool) error {
	e, err := quotaEntity(entry.Entity)
	if err != nil {
		return err
	}
	for _, op := range entry.Ops {
		if op.Remove {
			if _, ok := quotaKeys[op.Key]; !ok {
				return fmt.Errorf("%w: Invalid configuration key %s", kerr.InvalidRequest, op.Key)
			}
			continue
		}
		if err := validateQuotaValue(op.Key, op.Value); err != nil {
			return err
		}
	}
	if validateOnly {
		return nil
	}
	cur, err := s.meta.QuotaConfig(ctx, e)
	if err != nil {
		return err
	}
	next := maps.Clone(cur)
	for _, op := range entry.Ops {
		if op.Remove {
			delete(next, op.Key)
			continue
		}
		if quotaKeys[op.Key] {
			next[op.Key] = strconv.FormatInt(int64(op.Value), 10)
		} else {
			next[op.Key] = strconv.FormatFloat(op.Value, 'f', -1, 64)
		}
	}
	if err := s.meta.SetQuotaConfig(ctx, e, next); err != nil {
		return fmt.Errorf("writing client quotas: %w", err)
	}
	s.logger.Info().Str("user", e.User).Bool("user_default", e.UserDefault).Str("client_id", e.Client).
		Bool("client_default", e.ClientDefault).Interface("quotas", next).Msg("client quotas changed")
	return nil
}
