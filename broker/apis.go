package broker

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/protocol"
)

// api is one row of the dispatch table: the versions we serve and the handler.
type api struct {
	key      int16
	min, max int16
	handle   func(rc *requestContext, req kmsg.Request) (kmsg.Response, error)
}

type apiRange = protocol.APIRange

const apiKeyApiVersions = 18

// handler adapts a typed handler to the table's signature.
func handler[Req kmsg.Request](fn func(rc *requestContext, req Req) (kmsg.Response, error)) func(*requestContext, kmsg.Request) (kmsg.Response, error) {
	return func(rc *requestContext, req kmsg.Request) (kmsg.Response, error) {
		r, ok := req.(Req)
		if !ok {
			return nil, fmt.Errorf("bug: request type %T for key %d", req, req.Key())
		}
		return fn(rc, r)
	}
}

// buildAPITable is the one table of supported API keys and versions. It drives dispatch,
// the version check and the ApiVersions answer, so they cannot disagree. Advertise only what
// is implemented; never kmsg's maximum versions.
//
// Topic IDs: Metadata v10+ returns stable topic IDs, but Produce and Fetch are capped at v12
// and below (Produce v13 and Fetch v13+ address topics by ID), so clients keep using names.
func buildAPITable(s *Server) (map[int16]api, []apiRange) {
	rows := []api{
		// Produce from 0 so that old librdkafka enables compression (client-compat gotcha 2);
		// v0-2 (magic 0/1) are answered with UNSUPPORTED_VERSION, as Kafka 4.0 does.
		{key: 0, min: 0, max: 11, handle: handler(s.handleProduce)},
		// Fetch from 4: the first version whose records are magic 2.
		{key: 1, min: 4, max: 12, handle: handler(s.handleFetch)},
		{key: 2, min: 0, max: 7, handle: handler(s.handleListOffsets)},
		{key: 3, min: 0, max: 12, handle: handler(s.handleMetadata)},
		// Groups and committed offsets (package coordinator). Mins of 0 for librdkafka's
		// feature checks (balanced consumer: FindCoordinator/JoinGroup/SyncGroup/Heartbeat/
		// LeaveGroup v0, OffsetCommit/OffsetFetch v1); OffsetCommit/OffsetFetch stop at 9
		// (v10 addresses topics by id).
		// Controller to broker (cluster mode). Clients never send these.
		{key: 4, min: 2, max: 7, handle: handler(s.handleLeaderAndISR)},
		{key: 5, min: 1, max: 4, handle: handler(s.handleStopReplica)},
		{key: 6, min: 5, max: 8, handle: handler(s.handleUpdateMetadata)},
		{key: 7, min: 1, max: 3, handle: handler(s.handleControlledShutdown)},
		{key: 8, min: 0, max: 9, handle: handler(s.handleOffsetCommit)},
		{key: 9, min: 0, max: 9, handle: handler(s.handleOffsetFetch)},
		{key: 10, min: 0, max: 6, handle: handler(s.handleFindCoordinator)},
		{key: 11, min: 0, max: 9, handle: handler(s.handleJoinGroup)},
		{key: 12, min: 0, max: 4, handle: handler(s.handleHeartbeat)},
		{key: 13, min: 0, max: 5, handle: handler(s.handleLeaveGroup)},
		{key: 14, min: 0, max: 5, handle: handler(s.handleSyncGroup)},
		{key: 15, min: 0, max: 5, handle: handler(s.handleDescribeGroups)},
		{key: 16, min: 0, max: 4, handle: handler(s.handleListGroups)},
		// SASL (conn_auth.go handles them while a connection authenticates).
		{key: 17, min: 0, max: 1, handle: handler(s.handleSaslHandshake)},
		{key: 18, min: 0, max: 4, handle: handler(s.handleApiVersions)},
		{key: 19, min: 0, max: 7, handle: handler(s.handleCreateTopics)},
		{key: 20, min: 0, max: 6, handle: handler(s.handleDeleteTopics)},
		{key: 21, min: 0, max: 2, handle: handler(s.handleDeleteRecords)},
		// Transactions (package coordinator/txn; txns.go). AddPartitionsToTxn v4 is the
		// brokers' batched verification (KIP-890); WriteTxnMarkers comes from coordinators.
		{key: 22, min: 0, max: 5, handle: handler(s.handleInitProducerID)},
		{key: 23, min: 0, max: 4, handle: handler(s.handleOffsetForLeaderEpoch)},
		{key: 24, min: 0, max: 4, handle: handler(s.handleAddPartitionsToTxn)},
		{key: 25, min: 0, max: 4, handle: handler(s.handleAddOffsetsToTxn)},
		{key: 26, min: 0, max: 4, handle: handler(s.handleEndTxn)},
		{key: 27, min: 0, max: 1, handle: handler(s.handleWriteTxnMarkers)},
		{key: 28, min: 0, max: 4, handle: handler(s.handleTxnOffsetCommit)},
		// ACLs: advertised with or without an authorizer (SECURITY_DISABLED without).
		{key: 29, min: 0, max: 3, handle: handler(s.handleDescribeACLs)},
		{key: 30, min: 0, max: 3, handle: handler(s.handleCreateACLs)},
		{key: 31, min: 0, max: 3, handle: handler(s.handleDeleteACLs)},
		{key: 32, min: 0, max: 4, handle: handler(s.handleDescribeConfigs)},
		{key: 33, min: 0, max: 2, handle: handler(s.handleAlterConfigs)},
		{key: 35, min: 0, max: 4, handle: handler(s.handleDescribeLogDirs)},
		{key: 36, min: 0, max: 2, handle: handler(s.handleSaslAuthenticate)},
		{key: 37, min: 0, max: 3, handle: handler(s.handleCreatePartitions)},
		{key: 42, min: 0, max: 2, handle: handler(s.handleDeleteGroups)},
		{key: 43, min: 0, max: 2, handle: handler(s.handleElectLeaders)},
		{key: 44, min: 0, max: 1, handle: handler(s.handleIncrementalAlterConfigs)},
		{key: 45, min: 0, max: 0, handle: handler(s.handleAlterPartitionReassignments)},
		{key: 46, min: 0, max: 0, handle: handler(s.handleListPartitionReassignments)},
		{key: 47, min: 0, max: 0, handle: handler(s.handleOffsetDelete)},
		{key: 48, min: 0, max: 1, handle: handler(s.handleDescribeClientQuotas)},
		{key: 49, min: 0, max: 1, handle: handler(s.handleAlterClientQuotas)},
		{key: 50, min: 0, max: 0, handle: handler(s.handleDescribeUserSCRAMCredentials)},
		{key: 51, min: 0, max: 0, handle: handler(s.handleAlterUserSCRAMCredentials)},
		{key: 56, min: 0, max: 3, handle: handler(s.handleAlterPartition)},
		{key: 60, min: 0, max: 1, handle: handler(s.handleDescribeCluster)},
		{key: 61, min: 0, max: 0, handle: handler(s.handleDescribeProducers)},
		{key: 65, min: 0, max: 0, handle: handler(s.handleDescribeTransactions)},
		{key: 66, min: 0, max: 1, handle: handler(s.handleListTransactions)},
	}
	table := make(map[int16]api, len(rows))
	ranges := make([]apiRange, 0, len(rows))
	for _, r := range rows {
		table[r.key] = r
		ranges = append(ranges, apiRange{Key: r.key, Min: r.min, Max: r.max})
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].Key < ranges[j].Key })
	return table, ranges
}

// protocolRanges is the advertised list, in key order.
func (s *Server) protocolRanges() []apiRange { return s.apiRanges }
