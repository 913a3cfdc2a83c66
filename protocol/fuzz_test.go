package protocol

import (
	"bytes"
	"errors"
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
