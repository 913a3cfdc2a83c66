package protocol

import (
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
)

// RecordView is one record of a batch as seen by ForEachRecord. Key and Value
// alias the batch (or its decompressed copy) and are only valid during the
// callback; a null key or value is nil.
type RecordView struct {
	OffsetDelta    int32
	TimestampDelta int64
	Key, Value     []byte
}

// recordIter walks the records area of a batch without allocating.
type recordIter struct {
	data []byte // records not yet read
}

// next decodes the next record. Framing damage (bad varints, lengths that do
// not add up) wraps kerr.CorruptMessage.
func (it *recordIter) next() (RecordView, error) {
	var rv RecordView
	length, n := kbin.Varint(it.data)
	if n <= 0 {
		return rv, batchErr(kerr.CorruptMessage, "bad record length varint")
	}
	if length < 0 || int64(length) > int64(len(it.data)-n) {
		return rv, batchErr(kerr.CorruptMessage, "record length %d with %d bytes left", length, len(it.data)-n)
	}
	body := it.data[n : n+int(length)]
	it.data = it.data[n+int(length):]

	if len(body) < 1 {
		return rv, batchErr(kerr.CorruptMessage, "empty record")
	}
	body = body[1:] // attributes, unused
	if rv.TimestampDelta, n = kbin.Varlong(body); n <= 0 {
		return rv, batchErr(kerr.CorruptMessage, "bad record timestamp delta")
	}
	body = body[n:]
	if rv.OffsetDelta, n = kbin.Varint(body); n <= 0 {
		return rv, batchErr(kerr.CorruptMessage, "bad record offset delta")
	}
	body = body[n:]
	var err error
	if rv.Key, body, err = varintBytes(body, true, "record key"); err != nil {
		return rv, err
	}
	if rv.Value, body, err = varintBytes(body, true, "record value"); err != nil {
		return rv, err
	}
	headers, n := kbin.Varint(body)
	if n <= 0 || headers < 0 {
		return rv, batchErr(kerr.CorruptMessage, "bad record header count")
	}
	body = body[n:]
	for i := int32(0); i < headers; i++ {
		if _, body, err = varintBytes(body, false, "header key"); err != nil {
			return rv, err
		}
		if _, body, err = varintBytes(body, true, "header value"); err != nil {
			return rv, err
		}
	}
	if len(body) != 0 {
		return rv, batchErr(kerr.CorruptMessage, "record has %d bytes beyond its fields", len(body))
	}
	return rv, nil
}

// varintBytes reads a varint length (-1 = null when nullable) and that many
// bytes.
func varintBytes(b []byte, nullable bool, what string) (field, rest []byte, err error) {
	l, n := kbin.Varint(b)
	if n <= 0 {
		return nil, nil, batchErr(kerr.CorruptMessage, "bad %s length varint", what)
	}
	b = b[n:]
	switch {
	case l == -1 && nullable:
		return nil, b, nil
	case l < 0:
		return nil, nil, batchErr(kerr.CorruptMessage, "invalid %s length %d", what, l)
	case int64(l) > int64(len(b)):
		return nil, nil, batchErr(kerr.CorruptMessage, "%s of %d bytes with %d left", what, l, len(b))
	}
	return b[:l], b[l:], nil
}

// walkRecords checks the records area holds exactly count well-framed
// records and calls fn (when not nil) for each; fn returning false stops the
// walk without error. A count that does not match the records present wraps
// kerr.InvalidRecord.
func walkRecords(data []byte, count int32, fn func(RecordView) bool) error {
	it := recordIter{data: data}
	var seen int32
	for seen < count && len(it.data) > 0 {
		rv, err := it.next()
		if err != nil {
			return err
		}
		if fn != nil && !fn(rv) {
			return nil
		}
		seen++
	}
	return checkCount(count, seen, len(it.data))
}

// ForEachRecord walks the records of one magic-2 batch (decompressing them
// when the batch is compressed, up to limit bytes; limit <= 0 means
// DefaultMaxUncompressedBytes) and calls fn for each; fn returning false
// stops the walk. The batch is taken to end at its declared size; the CRC is
// not checked. Errors wrap kerr.CorruptMessage or kerr.InvalidRecord as in
// ValidateProduceBatch.
func ForEachRecord(batch []byte, limit int, fn func(RecordView) bool) error {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return err
	}
	if h.Magic != 2 {
		return batchErr(kerr.InvalidRecord, "magic %d, want 2", h.Magic)
	}
	if h.Length < BatchHeaderSize-logOverhead || int64(h.Size()) > int64(len(batch)) {
		return batchErr(kerr.CorruptMessage, "batch length %d does not fit %d bytes", h.Length, len(batch))
	}
	data := batch[BatchHeaderSize:h.Size()]
	if h.Codec() == CodecNone {
		return walkRecords(data, h.NumRecords, fn)
	}
	buf := getDecompressBuffer()
	defer putDecompressBuffer(buf)
	out, err := decompressAppend((*buf)[:0], h.Codec(), data, limit)
	*buf = out
	if err != nil {
		return batchErr(kerr.CorruptMessage, "%s records: %v", h.Codec(), err)
	}
	return walkRecords(out, h.NumRecords, fn)
}
