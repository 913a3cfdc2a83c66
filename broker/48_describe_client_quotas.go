package broker

// DescribeClientQuotas (key 48), versions 0-1: the quotas stored for the entities that match
// the filter (Kafka's semantics): a component matches an entity type exactly by name (match
// type 0), its default (1), or any name including the default (2); with strict set, entities
// that have other types than the filter names are left out. A component with an unknown or
// repeated entity type is INVALID_REQUEST.

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/quota"
)

func (s *Server) handleDescribeClientQuotas(rc *requestContext, req *kmsg.DescribeClientQuotasRequest) (kmsg.Response, error) {
	if !rc.authorizeCluster(opDescribeConfigs) {
		return answerWithCode(req, kerr.ClusterAuthorizationFailed.Code), nil
	}
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	filter := map[string]kmsg.DescribeClientQuotasRequestComponent{}
	for _, c := range req.Components {
		if c.EntityType != quotaEntityUser && c.EntityType != quotaEntityClient && c.EntityType != quotaEntityIP {
			return quotaDescribeError(resp, fmt.Errorf("%w: Custom entity type %q not supported", kerr.InvalidRequest, c.EntityType)), nil
		}
		if _, dup := filter[c.EntityType]; dup {
			return quotaDescribeError(resp, fmt.Errorf("%w: Duplicate %s filter component entity type", kerr.InvalidRequest, c.EntityType)), nil
		}
		if c.MatchType == 0 && c.Match == nil {
			return quotaDescribeError(resp, fmt.Errorf("%w: Exact match of %s needs a name", kerr.InvalidRequest, c.EntityType)), nil
		}
		filter[c.EntityType] = c
	}
	entities, err := s.meta.QuotaEntities(rc.ctx())
	if err != nil {
		return nil, err
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{} // null only with an error
	sort.Slice(entities, func(i, j int) bool { return fmt.Sprint(entities[i]) < fmt.Sprint(entities[j]) })
	for _, e := range entities {
		if !quotaEntityMatches(e, filter, req.Strict) {
			continue
		}
		raw, err := s.meta.QuotaConfig(rc.ctx(), e)
		if err != nil {
			return nil, err
		}
		vals := parseQuotas(raw)
		if len(vals) == 0 {
			continue
		}
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		if e.HasUser {
			entry.Entity = append(entry.Entity, describedEntity(quotaEntityUser, e.User, e.UserDefault))
		}
		if e.HasClient {
			entry.Entity = append(entry.Entity, describedEntity(quotaEntityClient, e.Client, e.ClientDefault))
		}
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, vals[k]
			entry.Values = append(entry.Values, v)
		}
		resp.Entries = append(resp.Entries, entry)
	}
	return resp, nil
}

func quotaDescribeError(resp *kmsg.DescribeClientQuotasResponse, err error) *kmsg.DescribeClientQuotasResponse {
	resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
	return resp
}

func describedEntity(typ, name string, def bool) kmsg.DescribeClientQuotasResponseEntryEntity {
	e := kmsg.NewDescribeClientQuotasResponseEntryEntity()
	e.Type = typ
	if !def {
		n := name
		e.Name = &n
	}
	return e
}

// quotaEntityMatches applies a DescribeClientQuotas filter to an entity.
func quotaEntityMatches(e quota.Entity, filter map[string]kmsg.DescribeClientQuotasRequestComponent, strict bool) bool {
	part := func(typ string, has, def bool, name string) bool {
		c, ok := filter[typ]
		if !ok {
			return !has || !strict
		}
		if !has {
			return false
		}
		switch c.MatchType {
		case 0:
			return !def && c.Match != nil && *c.Match == name
		case 1:
			return def
		default:
			return true
		}
	}
	if _, ok := filter[quotaEntityIP]; ok {
		return false // no ip entities are stored
	}
	return part(quotaEntityUser, e.HasUser, e.UserDefault, e.User) && part(quotaEntityClient, e.HasClient, e.ClientDefault, e.Client)
}
