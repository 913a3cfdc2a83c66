// Package controller is the cluster controller of Kafka's ZooKeeper mode: the
// one broker that won /controller elects partition leaders, keeps the ISR in
// the partition state znodes and tells the other brokers with LeaderAndIsr,
// UpdateMetadata and StopReplica.
//
// # Life cycle
//
// Run campaigns for /controller (zkmeta.Metadata.TryElectController) with a
// watch on it. Once elected, a term starts: the controller reads the cluster
// (brokers with their epochs, topics, partition states), sends UpdateMetadata
// to every live broker and LeaderAndIsr to every online replica, elects
// leaders for new and offline partitions, resumes topic deletions and then
// processes events until the term ends. A term ends when ctx ends, when a
// write finds the controller fenced (zkmeta.ErrControllerMoved), when
// /controller no longer names this session or when the session expires; the
// controller then drops its state, stops its send queues and campaigns again.
//
// # Goroutines
//
// All state of a term is owned by ONE event goroutine. ZooKeeper watches are
// forwarded to it as events by small goroutines (one per pending watch); the
// requests other brokers send (AlterPartition, ControlledShutdown,
// ElectLeaders) are events with a reply channel, so the exported methods are
// safe for concurrent use and answer NOT_CONTROLLER when no term is running.
// Every ZooKeeper write of a term goes through zkmeta.Metadata.Fenced with the
// term's /controller_epoch version.
//
// Requests to brokers go through one queue and one goroutine per live broker
// (queue.go): the event goroutine only appends, so a dead broker never blocks
// it. Each state change produces a batch per broker sent in the order
// LeaderAndIsr (v6), UpdateMetadata (v7), StopReplica (v3), each carrying the
// controller id and epoch and the recipient's broker epoch (the czxid of its
// /brokers/ids znode). A failed send is retried with backoff until the broker
// leaves /brokers/ids (or re-registers with a new epoch) or the term ends.
//
// # Behaviour
//
// Kafka 3.9's ZooKeeper-mode controller (KafkaController, PartitionStateMachine,
// ReplicaStateMachine, Election), see /work/shared/reference/kafka-zookeeper.md
// sections 2 to 4: new partitions get the first live replica as leader and all
// live replicas as ISR; offline partitions are re-elected from the live ISR
// members (unclean, with leader_recovery_state RECOVERING, only when the
// topic allows it); a lost broker is removed from ISRs (never emptying one);
// a bounce (same id, larger czxid) is a loss then a join; AlterPartition is
// checked and written with the partition epoch as expected znode version;
// controlled shutdown moves leadership off the broker and takes it out of the
// ISRs; preferred elections restore assignment[0] on request (ElectLeaders)
// and automatically when a broker's imbalance exceeds
// leader.imbalance.per.broker.percentage.
//
// Differences from Kafka: topic deletion does not wait for the StopReplica
// responses; the znodes are removed once StopReplica(delete) is queued to
// every replica, which requires every replica's broker to be live (otherwise
// the deletion waits for them). Reassignment is not implemented.
package controller
