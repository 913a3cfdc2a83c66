package cleaner

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/log"
	"kbroker/protocol"
)

// kv is a test record: value nil is a tombstone, key nil a record without a key.
type kv struct {
	key, value []byte
}

func rec(k, v string) kv { return kv{key: []byte(k), value: []byte(v)} }
func tomb(k string) kv   { return kv{key: []byte(k)} }

// batchSpec describes a test batch.
type batchSpec struct {
	recs               []kv
	codec              protocol.Codec
	ts                 int64 // base timestamp; record i has ts+i
	pid                int64 // -1: not idempotent
	epoch              int16
	seq                int32
	header             string // a record header value, if set
	logAppendTime      bool
	logAppendTimestamp int64
	txn                bool // transactional
}

// mkBatch builds a magic-2 batch with a valid CRC.
func mkBatch(t testing.TB, s batchSpec) []byte {
	t.Helper()
	var raw []byte
	for i, r := range s.recs {
		kr := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: r.key, Value: r.value}
		if s.header != "" {
			kr.Headers = []kmsg.Header{{Key: "h", Value: []byte(s.header)}}
		}
		body := kr.AppendTo(nil)
		kr.Length = int32(len(body) - 1)
		raw = kr.AppendTo(raw)
	}
	data := raw
	if s.codec != protocol.CodecNone {
		var err error
		if data, err = protocol.Compress(s.codec, raw); err != nil {
			t.Fatal(err)
		}
	}
	if s.ts == 0 {
		s.ts = time.Now().UnixMilli()
	}
	attrs := int16(s.codec)
	if s.txn {
		attrs |= attrTransactional
	}
	maxTs := s.ts + int64(len(s.recs)) - 1
	if s.logAppendTime {
		attrs |= attrLogAppendTime
		maxTs = s.logAppendTimestamp
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: 0, Magic: 2, Attributes: attrs,
		LastOffsetDelta: int32(len(s.recs) - 1), FirstTimestamp: s.ts, MaxTimestamp: maxTs,
		ProducerID: s.pid, ProducerEpoch: s.epoch, FirstSequence: s.seq, NumRecords: int32(len(s.recs)), Records: data,
	}
	if s.pid < 0 {
		b.ProducerEpoch, b.FirstSequence = -1, -1
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], protocol.BatchCRC(out))
	return out
}

// clock is a test time source.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// openLog opens a log with small segments on a test clock.
func openLog(t testing.TB, dir string, c *clock, fs log.FS) *log.Log {
	t.Helper()
	o := log.Options{SegmentBytes: 1024, Logger: zerolog.Nop(), Now: c.Now, FS: fs}
	l, err := log.Open(dir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

// openLogOpts opens a log with segments of segmentBytes.
func openLogOpts(t testing.TB, dir string, c *clock, segmentBytes int64) *log.Log {
	t.Helper()
	o := log.Options{SegmentBytes: segmentBytes, Logger: zerolog.Nop(), Now: c.Now}
	l, err := log.Open(dir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

func appendT(t testing.TB, l *log.Log, b []byte) log.AppendResult {
	t.Helper()
	r, err := l.Append(b, 0)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return r
}

// readRec is a record read back from a log.
type readRec struct {
	offset    int64
	key       string
	value     string
	tombstone bool
	hasKey    bool
	ts        int64
	header    string
}

// readAll reads every record of l, checking every batch's CRC and that offsets increase.
func readAll(t testing.TB, l *log.Log) ([]readRec, []header) {
	t.Helper()
	var out []readRec
	var hs []header
	next := l.LogStartOffset()
	for next < l.LogEndOffset() {
		r, err := l.Read(next, 1<<30, 1<<62, true)
		if err != nil {
			t.Fatalf("read at %d: %v", next, err)
		}
		if len(r.Data) == 0 {
			break
		}
		for data := r.Data; len(data) > 0; {
			h := parseHeader(data)
			b := data[:h.Size()]
			data = data[h.Size():]
			if protocol.BatchCRC(b) != h.CRC {
				t.Fatalf("batch at %d: bad CRC", h.BaseOffset)
			}
			if h.BaseOffset < next && len(hs) > 0 {
				t.Fatalf("batch at %d after offset %d", h.BaseOffset, next)
			}
			hs = append(hs, h)
			recs := b[protocol.BatchHeaderSize:]
			if h.codec() != protocol.CodecNone {
				if recs, err = protocol.Decompress(h.codec(), recs, 0); err != nil {
					t.Fatalf("batch at %d: %v", h.BaseOffset, err)
				}
			}
			err = forEachRecord(recs, h.NumRecords, func(r *record) error {
				rr := readRec{offset: h.BaseOffset + int64(r.offsetDelta), key: string(r.key), hasKey: r.key != nil, tombstone: r.tombstone, ts: h.BaseTimestamp + r.tsDelta}
				if h.Attributes&attrLogAppendTime != 0 {
					rr.ts = h.MaxTimestamp
				}
				var kr kmsg.Record
				if err := kr.ReadFrom(r.raw); err != nil {
					return err
				}
				rr.value = string(kr.Value)
				if len(kr.Headers) > 0 {
					rr.header = string(kr.Headers[0].Value)
				}
				out = append(out, rr)
				return nil
			})
			if err != nil {
				t.Fatalf("batch at %d: %v", h.BaseOffset, err)
			}
			next = h.LastOffset() + 1
		}
	}
	return out, hs
}

// latest maps each key to its last value ("" with tombstone true for a tombstone).
func latest(rs []readRec) map[string]readRec {
	m := map[string]readRec{}
	for _, r := range rs {
		if r.hasKey {
			m[r.key] = r
		}
	}
	return m
}

// fullClean cleans l's whole sealed part with a fresh cleaner.
func fullClean(t testing.TB, l *log.Log, cfg Config, firstDirty int64, now time.Time) Stats {
	t.Helper()
	segs := l.Segments()
	st, err := NewCleaner(1<<20, 0.9).Clean(t.Context(), l, cfg, firstDirty, segs[len(segs)-1].BaseOffset, now)
	if err != nil {
		t.Fatalf("clean: %v", err)
	}
	return st
}

func defaultConfig() Config {
	return Config{Compact: true, DeleteRetentionMs: 86400000, MaxCompactionLagMs: 1<<63 - 1, MinCleanableRatio: 0.5,
		SegmentBytes: 1024, MaxIndexBytes: 10 << 20}
}

// files lists the names in dir with the given suffix.
func files(t testing.TB, dir, suffix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func partDir(t testing.TB) string { return filepath.Join(t.TempDir(), "t-0") }

func val(i int) string { return fmt.Sprintf("value-%04d", i) }
