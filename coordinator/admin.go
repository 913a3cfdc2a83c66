package coordinator

import (
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// describe is Kafka's handleDescribeGroup for each group. An unknown group is described as
// Dead with no error; member metadata and assignments are shown only for Stable groups.
func (m *Machine) describe(ev *DescribeGroups) {
	res := DescribeResult{Groups: make([]GroupDescription, 0, len(ev.Groups))}
	for _, id := range ev.Groups {
		d := GroupDescription{Group: id}
		if code := m.groupStatus(id, true); code != 0 {
			d.Err = code
			res.Groups = append(res.Groups, d)
			continue
		}
		g := m.groups[id]
		if g == nil || g.cg != nil {
			// Kafka 4: GROUP_ID_NOT_FOUND with a message, which versions before 6 drop.
			d.State, d.Err, d.ErrMsg = Dead.String(), kerr.GroupIDNotFound.Code, fmt.Sprintf(describeNotFound, id)
			if g != nil {
				d.ErrMsg = fmt.Sprintf(describeNotClassic, id)
			}
			res.Groups = append(res.Groups, d)
			continue
		}
		d.State = g.state.String()
		d.ProtocolType = g.protocolType
		if g.is(Stable) {
			d.Protocol = g.protocol
		}
		for _, mid := range g.order {
			mem := g.members[mid]
			md := MemberDescription{MemberID: mem.id, InstanceID: mem.instanceID, ClientID: mem.clientID, ClientHost: mem.clientHost}
			if g.is(Stable) {
				md.Metadata = nonNil(mem.metadataFor(g.protocol))
				md.Assignment = nonNil(mem.assignment)
			} else {
				md.Metadata, md.Assignment = []byte{}, []byte{}
			}
			d.Members = append(d.Members, md)
		}
		res.Groups = append(res.Groups, d)
	}
	m.reply(ev.Req, res)
}

// list is Kafka's handleListGroups: the groups of the partitions loaded here, with
// COORDINATOR_LOAD_IN_PROGRESS while any partition is still loading.
func (m *Machine) list(ev *ListGroups) {
	var res ListResult
	for _, st := range m.parts {
		if st == partLoading {
			res.Err = kerr.CoordinatorLoadInProgress.Code
		}
	}
	for id, g := range m.groups {
		if m.parts[g.partition] != partActive || g.is(Dead) {
			continue
		}
		if len(ev.States) > 0 && !g.inStates(ev.States) || len(ev.Types) > 0 && !inFold(ev.Types, g.groupType()) {
			continue
		}
		res.Groups = append(res.Groups, GroupListing{Group: id, ProtocolType: g.listProtocolType(), State: g.listState(), Type: g.groupType()})
	}
	sort.Slice(res.Groups, func(i, j int) bool { return res.Groups[i].Group < res.Groups[j].Group })
	m.reply(ev.Req, res)
}

// inFold reports whether s is in list, ignoring case and surrounding spaces.
func inFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}

// deleteGroups is Kafka's handleDeleteGroups: only Empty groups are deleted, with tombstones
// for their offsets and metadata; the answer waits for the tombstones to be in the log.
func (m *Machine) deleteGroups(ev *DeleteGroups) {
	errs := make([]int16, len(ev.Groups))
	byPartition := map[int32][]Record{}
	byPartitionIdx := map[int32][]int{}
	for i, id := range ev.Groups {
		if code := m.groupStatus(id, true); code != 0 {
			errs[i] = code
			continue
		}
		g := m.groups[id]
		switch {
		case g == nil || g.is(Dead):
			errs[i] = kerr.GroupIDNotFound.Code
			continue
		case g.cg != nil && g.cg.state() != CGEmpty:
			errs[i] = kerr.NonEmptyGroup.Code
			continue
		case !g.is(Empty):
			errs[i] = kerr.NonEmptyGroup.Code
			continue
		}
		m.transition(g, Dead)
		all := make([]topicPartition, 0, len(g.offsets))
		for tp := range g.offsets {
			all = append(all, tp)
		}
		sort.Slice(all, func(i, j int) bool {
			return all[i].topic < all[j].topic || all[i].topic == all[j].topic && all[i].partition < all[j].partition
		})
		byPartition[g.partition] = append(byPartition[g.partition], m.cleanupGroup(g, all)...)
		byPartitionIdx[g.partition] = append(byPartitionIdx[g.partition], i)
		m.logger.Info().Str("group", id).Int("offsets", len(all)).Msg("group deleted")
	}
	if len(byPartition) == 0 {
		m.reply(ev.Req, DeleteGroupsResult{Errs: errs})
		return
	}
	parts := make([]int32, 0, len(byPartition))
	for p := range byPartition {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	remaining := len(parts)
	for _, p := range parts {
		p := p
		m.appendRecords(p, byPartition[p], func(code int16) {
			for _, i := range byPartitionIdx[p] {
				errs[i] = code
			}
			if remaining--; remaining == 0 {
				m.reply(ev.Req, DeleteGroupsResult{Errs: errs})
			}
		})
	}
}
