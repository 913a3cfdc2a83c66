// Package txn is the transaction coordinator: Kafka 3.9's TransactionCoordinator,
// TransactionMetadata and TransactionStateManager, with the transaction markers'
// bookkeeping of its TransactionMarkerChannelManager. The state of every transactional id
// lives as records in __transaction_state (TxnMetadataKey v0 / TxnMetadataValue v0, Kafka's
// own schemas); the coordinator of an id is the leader of partition
// abs(javaStringHashCode(id)) % transaction.state.log.num.partitions.
//
// # Shape
//
// Machine (machine.go, metadata.go, init.go, add.go, end.go, admin.go, load.go) is a pure
// state machine, built like the group coordinator's (package coordinator): Step(now, event)
// applies one event and returns effects. Events are the requests (InitProducerID,
// AddPartitions, VerifyPartitions, AddOffsets, EndTxn, DescribeTxns, ListTxns), the
// outcomes of effects (AppendDone, ProducerIDAllocated, MarkersWritten), TimerFired and the
// partition events (PartitionLoading, PartitionLoaded, PartitionUnloaded). Effects are Reply,
// Append (a record for a __transaction_state partition, answered by AppendDone once it is
// replicated), AllocateProducerID, WriteMarkers (commit or abort markers for some
// partitions, answered by MarkersWritten with one outcome per partition), ArmTimer and
// CancelTimer. Nothing in the machine reads a clock, starts a goroutine or does I/O.
//
// Coordinator (driver.go, api.go) is the driver: one goroutine owns the machine; appends,
// producer id allocation and marker writes run in goroutines of their own and post their
// outcome back, so a slow replica or partition leader holds up only the transactional id
// that waits for it. A transactional id has at most one state change in flight (Kafka's
// pending state), so the in-memory state of each id follows its log order.
//
// # Semantics (Kafka 3.9)
//
//   - States Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort,
//     Dead, PrepareEpochFence, with Kafka's valid transitions. A state change is prepared,
//     written to __transaction_state (acks=all), and only then applied; meanwhile requests
//     for the id get CONCURRENT_TRANSACTIONS.
//   - InitProducerId: a new id gets a producer id and epoch 0; an existing one an epoch
//     bump (fencing the previous producer), or a new producer id once the epoch is
//     exhausted. An ongoing transaction is first aborted with a fenced epoch and the
//     client told CONCURRENT_TRANSACTIONS (it retries). KIP-360: a producer giving its
//     current producer id and epoch keeps its producer id with the next epoch; a retry of
//     a bump it did not see the answer of gets the same epoch again.
//   - EndTxn writes PrepareCommit/PrepareAbort, answers the client, writes the markers to
//     every partition of the transaction (retrying those whose leader moved) and then
//     CompleteCommit/CompleteAbort. Loading a partition completes the transactions it
//     finds in PrepareCommit or PrepareAbort.
//   - Transactions older than their timeout are aborted with a fenced epoch every
//     transaction.abort.timed.out.transaction.cleanup.interval.ms; ids idle (Empty or
//     complete) for transactional.id.expiration.ms are removed with a tombstone every
//     transaction.remove.expired.transaction.cleanup.interval.ms.
package txn
