// Package cleaner is the log cleaner: compaction of the logs whose cleanup.policy contains
// compact, as Apache Kafka 3.9's LogCleaner does it, keeping the last record of every key.
//
// # Contract
//
// The cleaner works on a *log.Log only through its cleaning surface (log/clean.go):
// SealedSegments to read, NewCleanedSegment to write, ReplaceSegments to swap crash-safely,
// ActiveProducers, SegmentTimestamps and AbortedTxns (the .txnindex) to decide. The log
// stays the only owner of its files.
//
// A Manager holds the partitions its owner registers (Add, Remove) and runs
// log.cleaner.threads threads (Run, one goroutine each, started by the owner). Each thread
// in turn:
//
//  1. chooses the compacted log with the largest dirty ratio, cleanable bytes over total
//     bytes, among those above min.cleanable.dirty.ratio or holding a record older than
//     max.compaction.lag.ms; the dirty section starts at the partition's first dirty offset
//     (cleaner-offset-checkpoint of its log dir, else the log start) and ends before the
//     first segment that holds the uncleanable offset (the last stable offset: the high
//     watermark, or the first offset of a transaction still open below it), the active
//     segment, or a segment whose largest
//     timestamp is within min.compaction.lag.ms;
//  2. cleans it (Cleaner.Clean): maps every key of the dirty section to its latest offset in
//     an offset map bounded by its share of log.cleaner.dedupe.buffer.size (the batches of
//     aborted transactions put no key in it), then rewrites
//     every segment from the log's start up to where the map ends, in groups no larger than
//     segment.bytes (and segment.index.bytes), each group into one new segment swapped in
//     for it; the end of the map becomes the new first dirty offset, checkpointed;
//  3. runs retention (Partition.Retention) on every compacted log no thread holds;
//  4. sleeps log.cleaner.backoff.ms when nothing was cleaned.
//
// What a rewrite keeps of each batch (Kafka's cleanInto and MemoryRecords.filterTo):
//   - nothing of a batch of an aborted transaction (one the .txnindex lists);
//   - a record past the offset map's end, and a control record, but a transaction marker
//     only until its batch's delete horizon once its transaction has no batch left: the
//     first cleaning that finds no batch of it stamps the marker with now +
//     delete.retention.ms, as for tombstones;
//   - a keyed record that is its key's latest; a tombstone (null value) only until its
//     batch's delete horizon: the first cleaning that keeps a tombstone stamps the batch
//     with now + delete.retention.ms (KIP-534, the base timestamp with attribute bit 6);
//   - never a record without a key;
//   - of a batch whose records all go, an empty batch (header only) when it holds a
//     producer's last sequence (its last data batch, or its last marker of an epoch without
//     data), so that idempotent producer state survives a rebuild from the log.
//
// A batch that keeps every record and needs no horizon is copied as it is; otherwise it is
// rebuilt with the kept records (their timestamps, offsets, keys, values and headers as
// they were), recompressed with its own codec, its last offset, producer fields and leader
// epoch unchanged.
//
// Transactions are followed through a pass in offset order as Kafka's
// CleanedTransactionMetadata does (txnState): the aborted transactions of each segment come
// from the log's .txnindex; a data batch of a producer within an aborted transaction is
// dropped; an abort marker stays while a batch of its transaction was read in the pass, and
// so does its .txnindex entry, which the cleaned segment carries (CleanedSegment.
// AddAbortedTxn); a commit marker stays while a batch of its transaction was read; an
// emptied marker (no records) goes. An aborted transaction so leaves the log over three
// cleanings at least: the first removes its batches, the next stamps its marker's delete
// horizon, and the first after that horizon removes the marker.
package cleaner
