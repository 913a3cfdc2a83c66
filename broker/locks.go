package broker

// Lock order (take them in this order, never the reverse):
//
//  1. Server.adminMu      serialises topic creation, deletion and partition changes.
//  2. metadataCache.mu    the topic/partition metadata snapshot (held briefly, never across I/O).
//  3. partition.replicaMu orders the replica fetcher's appends and truncations of one
//                         partition with its role changes (held across that log I/O).
//  4. replicaManager.mu   the map of hosted partitions (held briefly, never across I/O).
//  5. partition.mu        one partition's waiters and leader state; appends are serialised
//                         inside the log itself, so no broker lock is held across disk writes
//                         except partition.appendMu, which orders validation and append.
//
// Server.connMu (the set of open connections) and replicaFetcher.mu (a fetcher's partitions)
// are leaf locks. The log cleaner's mutex (log/cleaner.Manager) is taken under
// replicaManager.mu when a partition is registered, never the other way round: the cleaner
// calls back into the broker (configuration, uncleanable offset, retention) without it.
