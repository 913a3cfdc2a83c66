package controller

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

// ControlledShutdown moves leadership off a broker that is stopping (Kafka's
// doControlledShutdown): the broker is marked shutting down, the partitions
// it leads (with more than one replica) get a controlled-shutdown election,
// and it leaves the ISR of the partitions it follows, which also get
// StopReplica(delete=false). The answer lists the partitions it still leads.
// An unknown broker is BROKER_NOT_AVAILABLE, an older broker epoch
// STALE_BROKER_EPOCH; NOT_CONTROLLER when not the controller.
func (c *Controller) ControlledShutdown(ctx context.Context, req *kmsg.ControlledShutdownRequest) *kmsg.ControlledShutdownResponse {
	resp, err := call(ctx, c, func(t *term) (*kmsg.ControlledShutdownResponse, error) { return t.controlledShutdown(req) })
	if err != nil {
		resp = kmsg.NewPtrControlledShutdownResponse()
		resp.SetVersion(req.GetVersion())
		resp.ErrorCode = errorCodeFor(ctx, err)
	}
	return resp
}

func (t *term) controlledShutdown(req *kmsg.ControlledShutdownRequest) (*kmsg.ControlledShutdownResponse, error) {
	resp := kmsg.NewPtrControlledShutdownResponse()
	resp.SetVersion(req.GetVersion())
	id := req.BrokerID
	b, ok := t.brokers[id]
	if !ok {
		resp.ErrorCode = kerr.BrokerNotAvailable.Code
		return resp, nil
	}
	if req.Version >= 2 && req.BrokerEpoch != -1 && req.BrokerEpoch < b.Epoch {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp, nil
	}
	if !t.shuttingDown[id] {
		t.logger.Info().Int32("shutting_down", id).Msg("controlled shutdown")
	}
	t.shuttingDown[id] = true

	var led, followed []tp
	for _, p := range t.partitionsOn(id) {
		st := t.state(p)
		if st == nil || t.deleting[p.topic] || len(t.replicas(p)) <= 1 {
			continue
		}
		if st.Leader == id {
			led = append(led, p)
		} else {
			followed = append(followed, p)
		}
	}
	isShuttingDown := func(b int32) bool { return t.shuttingDown[b] }
	for _, p := range led {
		replicas := t.replicas(p)
		err := t.updateState(p, "controlled shutdown", func(cur zkmeta.PartitionState) (zkmeta.PartitionState, error) {
			leader, isr, ok := electControlledShutdown(replicas, cur.ISR, t.live, isShuttingDown)
			if !ok {
				return cur, errNoChange
			}
			next := cur
			next.Leader, next.ISR, next.LeaderEpoch = leader, isr, cur.LeaderEpoch+1
			return next, nil
		})
		if errors.Is(err, errNoChange) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var to []int32
		for _, r := range replicas {
			if t.live(r) {
				to = append(to, r)
			}
		}
		t.addLeaderAndIsr(to, p, false)
	}
	for _, p := range followed {
		t.addStopReplica(id, p, false)
	}
	if err := t.removeReplicaFromISRs(id, followed); err != nil {
		return nil, err
	}
	resp.PartitionsRemaining = []kmsg.ControlledShutdownResponsePartitionsRemaining{}
	for _, p := range t.partitionsOn(id) {
		if st := t.state(p); st != nil && st.Leader == id {
			resp.PartitionsRemaining = append(resp.PartitionsRemaining,
				kmsg.ControlledShutdownResponsePartitionsRemaining{Topic: p.topic, Partition: p.partition})
		}
	}
	return resp, nil
}
