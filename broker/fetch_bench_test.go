package broker

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/log"
	"kbroker/protocol"
)

// BenchmarkFetchAssembly builds the answer to a Fetch of 6 partitions with up to 1 MiB each
// from logs of 16 KiB batches, both ways: zero-copy (regions spliced into the encoded frame,
// the bytes left in the page cache for sendfile) and copying (the bytes read into the
// response and encoded with it). The socket write is not included.
func BenchmarkFetchAssembly(b *testing.B) {
	const partitions = 6
	logs := make([]*log.Log, partitions)
	for i := range logs {
		l, err := log.Open(filepath.Join(b.TempDir(), fmt.Sprintf("t-%d", i)), log.Options{Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = l.Close() })
		batch := rawBatch(16, 1000)
		for j := 0; j < 256; j++ {
			if _, err := l.Append(batch, 0); err != nil {
				b.Fatal(err)
			}
		}
		logs[i] = l
	}
	build := func(b *testing.B, zeroCopy bool) {
		var f fetchRegions
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(12)
		t := kmsg.NewFetchResponseTopic()
		t.Topic = "bench"
		size := 0
		for i, l := range logs {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = int32(i)
			r, err := l.ReadRegion(0, 1<<20, l.LogEndOffset(), true)
			if err != nil {
				b.Fatal(err)
			}
			size += int(r.Size)
			if zeroCopy {
				f.add(&sp, r)
			} else {
				if sp.RecordBatches, err = r.ReadTo(make([]byte, 0, r.Size)); err != nil {
					b.Fatal(err)
				}
				r.Release()
			}
			t.Partitions = append(t.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, t)
		frame := protocol.AppendResponse(make([]byte, 0, responseSizeHint(resp)), 7, resp)
		if zeroCopy {
			_, regions, err := spliceRegions(frame, true, &f)
			if err != nil {
				b.Fatal(err)
			}
			out := outFrame{regions: regions}
			out.release()
		}
		b.SetBytes(int64(size))
	}
	for _, zc := range []bool{true, false} {
		b.Run(fmt.Sprintf("zero-copy=%v", zc), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				build(b, zc)
			}
		})
	}
}
