package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func FuzzReadFrame(f *testing.F) {
	addSeeds(f, "frames")
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1})
	f.Add([]byte{0x80, 0, 0, 0})
	const maxSize = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var buf []byte
		for i := 0; ; i++ {
			body, err := ReadFrame(r, maxSize, buf)
			if err != nil {
				return
			}
			if len(body) > maxSize {
				t.Fatalf("frame %d of %d bytes above the maximum", i, len(body))
			}
			buf = body
		}
	})
}

func FuzzParseRequestHeader(f *testing.F) {
	addSeeds(f, "headers")
	f.Add([]byte{})
	f.Add([]byte{0, 18, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0x80})
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, rest, err := ParseRequestHeader(frame)
		if err != nil {
			if errors.Is(err, ErrUnknownAPIKey) && KnownAPIKey(h.APIKey) {
				t.Fatalf("known key %d reported unknown", h.APIKey)
			}
			return
		}
		if !KnownAPIKey(h.APIKey) {
			t.Fatalf("unknown key %d accepted", h.APIKey)
		}
		if h.Version != RequestHeaderVersion(h.APIKey, h.APIVersion) {
			t.Fatalf("header version %d, want %d", h.Version, RequestHeaderVersion(h.APIKey, h.APIVersion))
		}
		if !bytes.HasSuffix(frame, rest) || len(rest) > len(frame)-8 {
			t.Fatalf("rest is not a tail of the frame")
		}
	})
}

func FuzzValidateProduceBatch(f *testing.F) {
	addSeeds(f, "batches")
	f.Add([]byte{})
	f.Add(make([]byte, BatchHeaderSize))
	opts := ValidateOptions{MaxBatchBytes: 1 << 20, MaxUncompressedBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ValidateProduceBatch(data, opts)
		if err != nil {
			var ke *kerr.Error
			if !errors.As(err, &ke) {
				t.Fatalf("error without a Kafka code: %v", err)
			}
			switch ke {
			case kerr.CorruptMessage, kerr.InvalidRecord, kerr.MessageTooLarge:
			default:
				t.Fatalf("unexpected code %s", ke.Message)
			}
			_ = ForEachRecord(data, 1<<20, func(RecordView) bool { return true })
			return
		}
		var n int32
		var walkErr error
		walkErr = ForEachRecord(data, 1<<20, func(r RecordView) bool {
			if r.OffsetDelta != n {
				t.Fatalf("record %d has offsetDelta %d after validation", n, r.OffsetDelta)
			}
			n++
			return true
		})
		if walkErr != nil || n != h.NumRecords {
			t.Fatalf("valid batch: walked %d of %d records, err %v", n, h.NumRecords, walkErr)
		}
		// Header rewrites keep a valid batch valid.
		c := bytes.Clone(data)
		SetPartitionLeaderEpoch(c, 3)
		if _, err := ValidateProduceBatch(c, opts); err != nil {
			t.Fatalf("after the epoch rewrite: %v", err)
		}
		SetBaseOffset(c, 42)
		if got, _ := ParseBatchHeader(c); got.CRC != BatchCRC(c) || got.BaseOffset != 42 {
			t.Fatal("base offset rewrite broke the CRC")
		}
		SetLogAppendTime(c, 99)
		if got, _ := ParseBatchHeader(c); got.CRC != BatchCRC(c) {
			t.Fatal("CRC wrong after SetLogAppendTime")
		}
	})
}

func FuzzConvertMessageSet(f *testing.F) {
	addSeeds(f, "messagesets")
	f.Add([]byte{})
	f.Add(make([]byte, legacyHeaderV1))
	opts := anyTime
	opts.MaxMessageBytes, opts.MaxUncompressedBytes = 1<<20, 1<<20
	f.Fuzz(func(t *testing.T, set []byte) {
		checkConvert(t, set, opts)
		// Mutations rarely keep a CRC right: the same set with its messages'
		// CRCs recomputed reaches the checks behind the CRC.
		checkConvert(t, resignMessageSet(bytes.Clone(set)), opts)
	})
}

// resignMessageSet recomputes the CRC of each magic 0/1 message of set.
func resignMessageSet(set []byte) []byte {
	for rest := set; ; {
		n, err := nextEntrySize(rest)
		if err != nil || n == 0 {
			return set
		}
		if rest[offLegacyMagic] < 2 {
			binary.BigEndian.PutUint32(rest[offLegacyCRC:], crc32.ChecksumIEEE(rest[offLegacyMagic:n]))
		}
		rest = rest[n:]
	}
}

func checkConvert(t *testing.T, set []byte, opts LegacyOptions) {
	batch, res, err := ConvertMessageSet(set, opts)
	if err != nil {
		var ke *kerr.Error
		if !errors.As(err, &ke) {
			t.Fatalf("error without a Kafka code: %v", err)
		}
		switch ke {
		case kerr.CorruptMessage, kerr.InvalidRecord, kerr.MessageTooLarge, kerr.InvalidTimestamp:
		default:
			t.Fatalf("unexpected code %s", ke.Message)
		}
		if batch != nil {
			t.Fatal("a batch with an error")
		}
		return
	}
	if batch == nil {
		return // no complete message
	}
	h, err := ValidateProduceBatch(batch, ValidateOptions{MaxBatchBytes: opts.MaxMessageBytes})
	if err != nil || h.NumRecords != res.Records {
		t.Fatalf("converted batch: %v (%d records, %d reported)", err, h.NumRecords, res.Records)
	}
	// The records survive the way back to magic 1 (zstd has no legacy form).
	if h.Codec() == CodecZstd {
		return
	}
	back, err := AppendDownConverted(nil, batch, 1, 0, opts.MaxUncompressedBytes)
	if err != nil {
		t.Fatalf("down-converting the converted batch: %v", err)
	}
	again, res2, err := ConvertMessageSet(back, opts)
	if err != nil || res2.Records != res.Records {
		t.Fatalf("re-converting: %v (%d of %d records)", err, res2.Records, res.Records)
	}
	var first, second [][]byte
	collect := func(dst *[][]byte) func(RecordView) bool {
		return func(r RecordView) bool { *dst = append(*dst, append(bytes.Clone(r.Key), r.Value...)); return true }
	}
	if ForEachRecord(batch, 0, collect(&first)) != nil || ForEachRecord(again, 0, collect(&second)) != nil {
		t.Fatal("walking the records")
	}
	for i := range first {
		if !bytes.Equal(first[i], second[i]) {
			t.Fatalf("record %d changed on the way back", i)
		}
	}
}

func FuzzAppendDownConverted(f *testing.F) {
	addSeeds(f, "batches")
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, batch []byte) {
		for magic := int8(0); magic <= 1; magic++ {
			out, err := AppendDownConverted(nil, batch, magic, 1, 1<<20)
			if err != nil {
				var ke *kerr.Error
				if !errors.As(err, &ke) {
					t.Fatalf("error without a Kafka code: %v", err)
				}
				continue
			}
			// Whatever came out is a message set a consumer can walk.
			for rest := out; len(rest) > 0; {
				n, err := nextEntrySize(rest)
				if err != nil || n == 0 {
					t.Fatalf("output is not a message set: %d %v", n, err)
				}
				rest = rest[n:]
			}
		}
	})
}
