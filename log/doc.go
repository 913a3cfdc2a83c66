// Package log is the broker's storage: one partition's log as a directory of
// segments, in Apache Kafka's own on-disk format, so that Kafka's
// kafka-dump-log.sh reads our files and a fetch can be served from them.
//
// # Contract
//
// Open(dir, Options) recovers and returns a *Log. Append assigns offsets to
// one client batch (checking idempotent-producer sequences); AppendAsFollower
// appends batches that already carry offsets; Read returns whole batches;
// TruncateTo and TruncateFullyAndStartAt move the end; IncrementLogStartOffset,
// DeleteOldSegments (retention, see retention.go) and DeleteBefore move the
// start; Flush, Roll, Reconfigure, Close and Delete manage files and settings.
// The log cleaner (package log/cleaner) reads and replaces sealed segments
// through the narrow surface of clean.go.
// Every method is safe for concurrent use: writes are serialised by a mutex,
// reads share it (RWMutex + ReadAt), fsync runs outside it. The only
// goroutines the package starts are short-lived: the flush of the segments
// before a roll, and the removal of deleted segments' files after
// file.delete.delay.ms. After an I/O error on the write path a Log refuses
// writes (ErrLogFailed) until reopened; Open repairs what the error left
// behind.
//
// Also here: the per-log-dir checkpoint files (ReadCheckpoint,
// WriteCheckpoint), meta.properties (ReadMeta, WriteMeta), partition
// directory names (ParseDirName, DirName, ScanLogDir), and the filesystem seam
// (FS, File, OSFS, and FaultFS for fault-injection tests).
//
// # On disk
//
//	<log.dir>/
//	├── meta.properties                    "#", cluster.id=<id>, version=0, broker.id=<n>
//	├── recovery-point-offset-checkpoint   ┐ "0\n" <count> "\n"
//	├── replication-offset-checkpoint      ├ then "<topic> <partition> <offset>\n" per line
//	├── log-start-offset-checkpoint        │ (written: .tmp, fsync, rename, fsync dir)
//	├── cleaner-offset-checkpoint          ┘ first dirty offsets (package log/cleaner)
//	└── <topic>-<partition>/               one directory per partition
//	    ├── 00000000000000000000.log        segment: batches exactly as on the wire,
//	    ├── 00000000000000000000.index      named by the base offset (20 digits)
//	    ├── 00000000000000000000.timeindex
//	    ├── 00000000000000000000.txnindex   aborted transactions (only when there are)
//	    ├── 00000000000000000000.snapshot   producer state at that offset (ours)
//	    ├── 00000000000000004096.log        next segment, base = previous log end
//	    ├── ...
//	    └── leader-epoch-checkpoint         "0\n" <count> "\n" then "<epoch> <startOffset>\n"
//
// A .log file is a sequence of record batches (magic 2), big-endian:
//
//	 0                   8          12                   16    17          21
//	+-------------------+----------+--------------------+-----+-----------+
//	| baseOffset int64  | length   | partitionLeader-   |magic| crc uint32|
//	| (assigned by us)  | int32    | Epoch int32 (ours) | =2  | CRC-32C   |
//	+-------------------+----------+--------------------+-----+-----------+
//	 21          23                27                 35                 43
//	+-----------+-----------------+------------------+------------------+
//	|attributes | lastOffsetDelta | baseTimestamp    | maxTimestamp     |
//	|int16      | int32           | int64            | int64            |
//	+-----------+-----------------+------------------+------------------+
//	 43                 51             53             57            61
//	+------------------+--------------+--------------+-------------+---------
//	| producerId int64 | producerEpoch| baseSequence | recordCount | records
//	|                  | int16        | int32        | int32       | (maybe
//	+------------------+--------------+--------------+-------------+ compressed)
//
//	length = bytes after the length field (batch size - 12).
//	crc covers bytes 21..end, so rewriting baseOffset and partitionLeaderEpoch
//	keeps it valid. attributes: bits 0-2 codec (0 none, 1 gzip, 2 snappy,
//	3 lz4, 4 zstd), bit 3 timestamp type (1 = LogAppendTime), bit 4
//	transactional, bit 5 control. Each record: varint length, int8
//	attributes, varlong timestampDelta, varint offsetDelta, key, value,
//	headers.
//
// The .index is sparse: an 8-byte entry per IndexIntervalBytes of log data,
//
//	+---------------------------------+---------------------------------+
//	| relativeOffset uint32           | position uint32                 |
//	| (batch's last offset - base)    | (file position of that batch)   |
//	+---------------------------------+---------------------------------+
//
// added, as in Kafka, when more than IndexIntervalBytes were appended since
// the last entry (so never for a segment's first batch). The .timeindex has a
// 12-byte entry at the same moments, only when the segment's max timestamp
// grew since its last entry, plus a final one when the segment is rolled or
// the log closed:
//
//	+----------------------------------+---------------------------------+
//	| timestamp int64 (max so far)     | relativeOffset uint32 (last     |
//	|                                  | offset of the batch reaching it)|
//	+----------------------------------+---------------------------------+
//
// Index files are appended to (never preallocated), so their length is
// entries × entry size; a partial trailing entry is trimmed at Open, and an
// index that is missing or inconsistent (offsets or positions not
// increasing, an offset beyond the segment, a position beyond the .log) is
// rebuilt from the .log. A segment rolls before an append would make it
// larger than SegmentBytes, when its first append is older than SegmentMs,
// when an index is full (MaxIndexBytes), or when a relative offset would
// overflow int32.
//
// <offset>.snapshot holds the producer state (epoch and the last 5 batches'
// sequences and offsets per producer id, its open transaction's first offset
// and coordinator epoch) as of that offset, and how many aborted transactions
// each segment's .txnindex holds; it is written at each roll and at Close. Its
// format is our own (version 101, CRC-32C protected, see producer.go); Kafka
// treats it as a corrupt snapshot and rebuilds from the log, as we do when a
// snapshot is missing.
//
// Transactions (txn.go, txnindex.go): a producer's first transactional batch
// opens its transaction in the partition, a control batch (commit or abort
// marker) closes it. FirstUnstableOffset gives what the last stable offset
// needs (read_committed reads below it). The .txnindex of a segment is
// Kafka's: one 34-byte entry per transaction aborted by a marker in that
// segment (int16 version 0, int64 producerId, firstOffset, lastOffset,
// lastStableOffset), created with its first entry. AbortedTxns answers a
// read_committed fetch from them. Open rebuilds, by replaying batch headers
// from a producer snapshot, the indexes of segments recovery found data in
// beyond the recovery point, of torn or inconsistent .txnindex files, and of
// segments whose entries differ from the snapshot's count (a lost file).
//
// # Recovery
//
// Open scans every segment from the one holding the recovery point (from the
// index entry at or below the recovery point within that segment), checking
// each batch's length, magic and CRC-32C and that offsets increase; the first
// torn or corrupt batch and everything after it is cut, later segments are
// deleted, and one Warn line reports the offset and bytes dropped. Leftover
// .deleted, .cleaned and .tmp files and *-delete directories are removed; a
// segment swap of the cleaner that a crash interrupted is completed or undone
// from its .swap and .cleaned files (clean.go). Removing segments (TruncateTo, retention) renames each file to
// .deleted before removing it (at once, or file.delete.delay.ms later for
// retention), newest segment first for TruncateTo and oldest first for
// retention, so a crash always leaves a contiguous log.
package log
