package controller

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

// Election types of ElectLeaders.
const (
	electionPreferred int8 = 0
	electionUnclean   int8 = 1
)

// ElectLeaders runs preferred (type 0, and v0) or unclean (type 1) leader
// elections for the listed partitions, or all partitions when Topics is nil.
// Per partition: unknown UNKNOWN_TOPIC_OR_PARTITION; a topic being deleted
// INVALID_TOPIC_EXCEPTION; preferred: ELECTION_NOT_NEEDED when
// assignment[0] leads, PREFERRED_LEADER_NOT_AVAILABLE when it is not live
// or not in the ISR; unclean: ELECTION_NOT_NEEDED when the partition has a
// live leader, ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live.
// NOT_CONTROLLER for every partition when not the controller.
func (c *Controller) ElectLeaders(ctx context.Context, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	resp, err := call(ctx, c, func(t *term) (*kmsg.ElectLeadersResponse, error) { return t.electLeaders(req) })
	if err != nil {
		code := errorCodeFor(ctx, err)
		resp = kmsg.NewPtrElectLeadersResponse()
		resp.SetVersion(req.GetVersion())
		if req.Version >= 1 {
			resp.ErrorCode = code
		}
		for _, rt := range req.Topics {
			out := kmsg.NewElectLeadersResponseTopic()
			out.Topic = rt.Topic
			for _, p := range rt.Partitions {
				r := kmsg.NewElectLeadersResponseTopicPartition()
				r.Partition, r.ErrorCode = p, code
				out.Partitions = append(out.Partitions, r)
			}
			resp.Topics = append(resp.Topics, out)
		}
	}
	return resp
}

func (t *term) electLeaders(req *kmsg.ElectLeadersRequest) (*kmsg.ElectLeadersResponse, error) {
	resp := kmsg.NewPtrElectLeadersResponse()
	resp.SetVersion(req.GetVersion())
	typ := electionPreferred
	if req.Version >= 1 {
		typ = req.ElectionType
	}
	requested := map[string][]int32{}
	var order []string
	if req.Topics == nil {
		for _, name := range t.sortedTopics() {
			if t.deleting[name] {
				continue
			}
			order = append(order, name)
			requested[name] = sortedParts(t.topics[name].replicas)
		}
	} else {
		for _, rt := range req.Topics {
			if _, ok := requested[rt.Topic]; !ok {
				order = append(order, rt.Topic)
			}
			requested[rt.Topic] = append(requested[rt.Topic], rt.Partitions...)
		}
	}
	for _, name := range order {
		out := kmsg.NewElectLeadersResponseTopic()
		out.Topic = name
		parts := requested[name]
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		for _, p := range parts {
			code, err := t.electOne(tp{name, p}, typ)
			if err != nil {
				return nil, err
			}
			r := kmsg.NewElectLeadersResponseTopicPartition()
			r.Partition = p
			if code != nil {
				r.ErrorCode = code.Code
				msg := code.Description
				r.ErrorMessage = &msg
			}
			out.Partitions = append(out.Partitions, r)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp, nil
}

// electOne runs one requested election; the kerr error is the partition's
// answer, the error ends the term.
func (t *term) electOne(p tp, typ int8) (*kerr.Error, error) {
	ti := t.topics[p.topic]
	if ti == nil {
		return kerr.UnknownTopicOrPartition, nil
	}
	if _, ok := ti.replicas[p.partition]; !ok {
		return kerr.UnknownTopicOrPartition, nil
	}
	if t.deleting[p.topic] {
		return kerr.InvalidTopicException, nil
	}
	st := ti.states[p.partition]
	switch typ {
	case electionPreferred:
		if st == nil {
			return kerr.PreferredLeaderNotAvailable, nil
		}
		return t.electPreferredPartition(p)
	case electionUnclean:
		if st == nil {
			return kerr.EligibleLeadersNotAvailable, nil
		}
		if !t.offline(st) {
			return kerr.ElectionNotNeeded, nil
		}
		err := t.electOfflinePartition(p, func() bool { return true })
		if errors.Is(err, errNoChange) {
			return kerr.EligibleLeadersNotAvailable, nil
		}
		return nil, err
	}
	return kerr.InvalidRequest, nil
}

// electPreferredPartition makes assignment[0] the leader if it is live and
// in the ISR (ISR unchanged, leader epoch + 1).
func (t *term) electPreferredPartition(p tp) (*kerr.Error, error) {
	replicas := t.replicas(p)
	st := t.state(p)
	if len(replicas) > 0 && st.Leader == replicas[0] {
		return kerr.ElectionNotNeeded, nil
	}
	err := t.updateState(p, "preferred replica election", func(cur zkmeta.PartitionState) (zkmeta.PartitionState, error) {
		leader, ok := electPreferred(replicas, cur.ISR, t.live)
		if !ok || cur.Leader == leader {
			return cur, errNoChange
		}
		next := cur
		next.Leader, next.LeaderEpoch = leader, cur.LeaderEpoch+1
		return next, nil
	})
	if errors.Is(err, errNoChange) {
		if st := t.state(p); st != nil && len(replicas) > 0 && st.Leader == replicas[0] {
			return kerr.ElectionNotNeeded, nil
		}
		return kerr.PreferredLeaderNotAvailable, nil
	}
	if err != nil {
		return nil, err
	}
	t.addLeaderAndIsr(replicas, p, false)
	return nil, nil
}

// onRebalance is the auto leader rebalance: for each broker, when more than
// leader.imbalance.per.broker.percentage of the partitions it is preferred
// leader of are led by another broker, preferred elections run for those
// where it is eligible.
func (t *term) onRebalance() error {
	defer t.scheduleRebalance(t.c.cfg.LeaderImbalanceCheckInterval)
	type counts struct{ total, off []tp }
	byBroker := map[int32]*counts{}
	for _, name := range t.sortedTopics() {
		if t.deleting[name] {
			continue
		}
		ti := t.topics[name]
		for _, p := range sortedParts(ti.replicas) {
			rs := ti.replicas[p]
			if len(rs) == 0 {
				continue
			}
			c := byBroker[rs[0]]
			if c == nil {
				c = &counts{}
				byBroker[rs[0]] = c
			}
			c.total = append(c.total, tp{name, p})
			if st := ti.states[p]; st != nil && st.Leader != rs[0] {
				c.off = append(c.off, tp{name, p})
			}
		}
	}
	limit := float64(t.c.cfg.LeaderImbalancePerBrokerPercentage) / 100
	for _, id := range sortedParts(byBroker) {
		c := byBroker[id]
		if len(c.off) == 0 || float64(len(c.off))/float64(len(c.total)) <= limit {
			continue
		}
		t.logger.Info().Int32("preferred_leader", id).Int("imbalanced", len(c.off)).Int("partitions", len(c.total)).
			Msg("leader imbalance above the limit; running preferred elections")
		for _, p := range c.off {
			if st := t.state(p); st == nil || !t.live(id) || !contains(st.ISR, id) || t.reassigning(p) {
				continue
			}
			if _, err := t.electPreferredPartition(p); err != nil {
				return err
			}
		}
	}
	return nil
}
