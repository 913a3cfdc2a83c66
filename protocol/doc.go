// Package protocol holds the Kafka wire-level pieces the broker needs on top
// of kmsg (github.com/twmb/franz-go/pkg/kmsg), which already has every request
// and response codec and the record-batch struct:
//
//   - framing: size-prefixed frames (int32 big-endian length), with the size
//     checked against a limit before any buffer is allocated (ReadFrame);
//   - request and response headers: which header version goes with which
//     (API key, version) pair, parsing the request header, and writing a
//     complete response frame (RequestHeaderVersion, ResponseHeaderVersion,
//     ParseRequestHeader, AppendResponse, AppendAPIVersionsUnsupported);
//   - record batches (magic 2): header parsing, the produce-path validation
//     with Kafka's error codes and record errors (keys of a compacted topic,
//     CreateTime bounds), the rebuild of a batch with a topic's
//     compression.type (PrepareProduceBatch), in-place header rewrites (base
//     offset, leader epoch, log-append time with CRC recomputation) and
//     record iteration;
//   - message sets of magic 0 and 1 (Produce v0-2, Fetch v0-3; legacy.go has
//     their layout): validation and conversion to one magic-2 batch as Kafka's
//     LogValidator does it (ConvertMessageSet), and the way back for a fetch
//     (AppendDownConverted), messages encoded with kmsg.MessageV0/V1;
//   - compression codecs: gzip, snappy (raw and xerial-framed), lz4 (frame
//     format) and zstd, with a cap on the decompressed size; and Kafka's own
//     framings when the broker compresses (xerial snappy, 64 KiB LZ4 blocks,
//     the magic-0 LZ4 header checksum).
//
// # Record batch layout (magic 2), all integers big-endian
//
//	offset  size  field
//	     0     8  baseOffset
//	     8     4  batchLength (bytes after this field)
//	    12     4  partitionLeaderEpoch
//	    16     1  magic (2)
//	    17     4  crc (CRC-32C of bytes 21..end)
//	    21     2  attributes: bits 0-2 codec, 3 timestamp type
//	              (1 = LogAppendTime), 4 transactional, 5 control
//	    23     4  lastOffsetDelta
//	    27     8  baseTimestamp
//	    35     8  maxTimestamp
//	    43     8  producerId
//	    51     2  producerEpoch
//	    53     4  baseSequence
//	    57     4  recordCount
//	    61     …  records, compressed as a whole when codec != none
//
// Each record is: length (varint), attributes (int8), timestampDelta
// (varlong), offsetDelta (varint), key length (varint, -1 = null) and key,
// value length (varint, -1 = null) and value, header count (varint), then per
// header a key length (varint) and key and a value length (varint) and value.
//
// # Errors
//
// Batch validation errors wrap a *kerr.Error (kerr.CorruptMessage,
// kerr.MessageTooLarge, kerr.InvalidRecord or kerr.InvalidTimestamp) so that
// callers can use errors.Is / errors.As to pick the error code for the
// produce response; a batch refused for some of its records is a
// *RecordsError, which also carries Kafka's message and each record's error.
// Framing and header errors are plain errors: the connection that sent them
// is to be closed.
//
// # Concurrency
//
// Every function is safe for concurrent use. Decoders for gzip, lz4 and zstd
// are pooled (sync.Pool) and never shared while in use. The package has no
// mutable state of its own besides those pools; the API-key table is computed
// once from kmsg and only read afterwards. Nothing here panics on bad input.
package protocol
