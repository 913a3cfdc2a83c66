package controller

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

// Versions of the requests the controller sends (IBP 3.2 / 2.8 levels).
const (
	leaderAndIsrVersion   int16 = 6
	updateMetadataVersion int16 = 7
	stopReplicaVersion    int16 = 3
)

// Special leader epochs and leaders of Kafka's controller.
const (
	leaderDuringDelete int32 = -2 // UpdateMetadata leader of a topic being deleted
	epochDuringDelete  int32 = -2 // StopReplica leader epoch of a topic being deleted
	noEpoch            int32 = -1
)

// batch collects the requests of one state change, per broker.
type batch struct {
	lai  map[int32]map[tp]bool     // broker -> partition -> isNew
	umd  map[int32]map[tp]struct{} // broker -> partitions (empty: brokers only)
	stop map[int32]map[tp]stopEntry
}

type stopEntry struct {
	delete      bool
	leaderEpoch int32
}

func newBatch() *batch {
	return &batch{lai: map[int32]map[tp]bool{}, umd: map[int32]map[tp]struct{}{}, stop: map[int32]map[tp]stopEntry{}}
}

func (b *batch) empty() bool { return len(b.lai) == 0 && len(b.umd) == 0 && len(b.stop) == 0 }

// addLeaderAndIsr queues LeaderAndIsr for p to the registered brokers among
// to, and UpdateMetadata for p to every registered broker (as Kafka does).
func (t *term) addLeaderAndIsr(to []int32, p tp, isNew bool) {
	if t.state(p) == nil {
		return
	}
	for _, id := range to {
		if !t.registered(id) {
			continue
		}
		m := t.batch.lai[id]
		if m == nil {
			m = map[tp]bool{}
			t.batch.lai[id] = m
		}
		m[p] = m[p] || isNew
	}
	t.addUpdateMetadata(t.liveBrokerIDs(), p)
}

// addUpdateMetadata queues UpdateMetadata for ps to the brokers in to; with
// no partitions it carries the live brokers only.
func (t *term) addUpdateMetadata(to []int32, ps ...tp) {
	for _, id := range to {
		if !t.registered(id) {
			continue
		}
		m := t.batch.umd[id]
		if m == nil {
			m = map[tp]struct{}{}
			t.batch.umd[id] = m
		}
		for _, p := range ps {
			m[p] = struct{}{}
		}
	}
}

// addAllPartitionsMetadata queues UpdateMetadata with every partition that
// has a state to the brokers in to.
func (t *term) addAllPartitionsMetadata(to []int32) {
	var ps []tp
	for name, ti := range t.topics {
		for p := range ti.states {
			ps = append(ps, tp{name, p})
		}
	}
	t.addUpdateMetadata(to, ps...)
}

// addStopReplica queues StopReplica for p to broker id, with the leader epoch of a topic
// deletion when del is set.
func (t *term) addStopReplica(id int32, p tp, del bool) {
	epoch := noEpoch
	if del {
		epoch = epochDuringDelete
	} else if st := t.state(p); st != nil {
		epoch = st.LeaderEpoch
	}
	t.addStopReplicaAt(id, p, del, epoch)
}

// addStopReplicaAt queues StopReplica for p to broker id with the given leader epoch.
func (t *term) addStopReplicaAt(id int32, p tp, del bool, epoch int32) {
	if !t.registered(id) {
		return
	}
	m := t.batch.stop[id]
	if m == nil {
		m = map[tp]stopEntry{}
		t.batch.stop[id] = m
	}
	m[p] = stopEntry{delete: del, leaderEpoch: epoch}
}

// flush turns the batch into requests on the brokers' queues, in the order
// LeaderAndIsr, UpdateMetadata, StopReplica per broker.
func (t *term) flush() {
	b := t.batch
	if b.empty() {
		return
	}
	t.batch = newBatch()
	ids := map[int32]bool{}
	for id := range b.lai {
		ids[id] = true
	}
	for id := range b.umd {
		ids[id] = true
	}
	for id := range b.stop {
		ids[id] = true
	}
	for id := range ids {
		q := t.queues[id]
		info, ok := t.brokers[id]
		if q == nil || !ok {
			continue
		}
		var reqs []kmsg.Request
		if ps, ok := b.lai[id]; ok {
			reqs = append(reqs, t.leaderAndIsrRequest(info, ps))
		}
		if ps, ok := b.umd[id]; ok {
			reqs = append(reqs, t.updateMetadataRequest(info, ps))
		}
		if ps, ok := b.stop[id]; ok {
			reqs = append(reqs, t.stopReplicaRequest(info, ps))
		}
		q.enqueue(reqs...)
	}
}

// groupByTopic returns the partitions sorted by topic then partition.
func groupByTopic[V any](m map[tp]V) ([]string, map[string][]int32) {
	byTopic := map[string][]int32{}
	for p := range m {
		byTopic[p.topic] = append(byTopic[p.topic], p.partition)
	}
	names := make([]string, 0, len(byTopic))
	for n, ps := range byTopic {
		names = append(names, n)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	}
	sort.Strings(names)
	return names, byTopic
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

func (t *term) leaderAndIsrRequest(to zkmeta.BrokerInfo, ps map[tp]bool) *kmsg.LeaderAndISRRequest {
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.SetVersion(leaderAndIsrVersion)
	req.ControllerID = t.c.cfg.BrokerID
	req.ControllerEpoch = t.epoch
	req.BrokerEpoch = to.Epoch
	leaders := map[int32]bool{}
	names, byTopic := groupByTopic(ps)
	for _, name := range names {
		ti := t.topics[name]
		if ti == nil {
			continue
		}
		ts := kmsg.NewLeaderAndISRRequestTopicState()
		ts.Topic, ts.TopicID = name, ti.id
		for _, p := range byTopic[name] {
			st := ti.states[p]
			if st == nil {
				continue
			}
			e := kmsg.NewLeaderAndISRRequestTopicPartition()
			e.Topic = name
			e.Partition = p
			e.ControllerEpoch = st.ControllerEpoch
			e.Leader = st.Leader
			e.LeaderEpoch = st.LeaderEpoch
			e.ISR = nonNil(st.ISR)
			e.ZKVersion = st.version
			e.Replicas = nonNil(ti.replicas[p])
			e.AddingReplicas = nonNil(ti.adding[p])
			e.RemovingReplicas = nonNil(ti.removing[p])
			e.IsNew = ps[tp{name, p}]
			e.LeaderRecoveryState = int8(st.LeaderRecoveryState)
			ts.PartitionStates = append(ts.PartitionStates, e)
			if st.Leader >= 0 {
				leaders[st.Leader] = true
			}
		}
		req.TopicStates = append(req.TopicStates, ts)
	}
	for _, id := range sortedParts(leaders) {
		b, ok := t.brokers[id]
		ep, hasEP := EndpointOn(b, t.c.cfg.InterBrokerListener)
		if !ok || !hasEP {
			continue
		}
		l := kmsg.NewLeaderAndISRRequestLiveLeader()
		l.BrokerID, l.Host, l.Port = id, ep.Host, ep.Port
		req.LiveLeaders = append(req.LiveLeaders, l)
	}
	return req
}

// securityProtocolID is Kafka's SecurityProtocol id.
func securityProtocolID(name string) int16 {
	switch name {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0
}

func (t *term) updateMetadataRequest(to zkmeta.BrokerInfo, ps map[tp]struct{}) *kmsg.UpdateMetadataRequest {
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.SetVersion(updateMetadataVersion)
	req.ControllerID = t.c.cfg.BrokerID
	req.ControllerEpoch = t.epoch
	req.BrokerEpoch = to.Epoch
	for _, id := range t.liveBrokerIDs() {
		b := t.brokers[id]
		lb := kmsg.NewUpdateMetadataRequestLiveBroker()
		lb.ID = id
		if ep, ok := EndpointOn(b, t.c.cfg.InterBrokerListener); ok {
			lb.Host, lb.Port = ep.Host, ep.Port
		}
		for _, e := range b.Endpoints {
			ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
			ep.Host, ep.Port, ep.ListenerName = e.Host, e.Port, e.Listener
			ep.SecurityProtocol = securityProtocolID(e.SecurityProtocol)
			lb.Endpoints = append(lb.Endpoints, ep)
		}
		if b.Rack != "" {
			rack := b.Rack
			lb.Rack = &rack
		}
		req.LiveBrokers = append(req.LiveBrokers, lb)
	}
	names, byTopic := groupByTopic(ps)
	for _, name := range names {
		ti := t.topics[name]
		if ti == nil {
			continue
		}
		ts := kmsg.NewUpdateMetadataRequestTopicState()
		ts.Topic, ts.TopicID = name, ti.id
		for _, p := range byTopic[name] {
			st := ti.states[p]
			if st == nil {
				continue
			}
			e := kmsg.NewUpdateMetadataRequestTopicPartition()
			e.Topic = name
			e.Partition = p
			e.ControllerEpoch = st.ControllerEpoch
			e.Leader = st.Leader
			if t.deleting[name] {
				e.Leader = leaderDuringDelete
			}
			e.LeaderEpoch = st.LeaderEpoch
			e.ISR = nonNil(st.ISR)
			e.ZKVersion = st.version
			e.Replicas = nonNil(ti.replicas[p])
			e.OfflineReplicas = []int32{}
			for _, r := range ti.replicas[p] {
				if !t.registered(r) {
					e.OfflineReplicas = append(e.OfflineReplicas, r)
				}
			}
			ts.PartitionStates = append(ts.PartitionStates, e)
		}
		req.TopicStates = append(req.TopicStates, ts)
	}
	return req
}

func (t *term) stopReplicaRequest(to zkmeta.BrokerInfo, ps map[tp]stopEntry) *kmsg.StopReplicaRequest {
	req := kmsg.NewPtrStopReplicaRequest()
	req.SetVersion(stopReplicaVersion)
	req.ControllerID = t.c.cfg.BrokerID
	req.ControllerEpoch = t.epoch
	req.BrokerEpoch = to.Epoch
	names, byTopic := groupByTopic(ps)
	for _, name := range names {
		rt := kmsg.NewStopReplicaRequestTopic()
		rt.Topic = name
		for _, p := range byTopic[name] {
			e := ps[tp{name, p}]
			s := kmsg.NewStopReplicaRequestTopicPartitionState()
			s.Partition, s.LeaderEpoch, s.Delete = p, e.leaderEpoch, e.delete
			rt.PartitionStates = append(rt.PartitionStates, s)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}
