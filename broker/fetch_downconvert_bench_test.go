package broker

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkFetchDownConversion is BenchmarkFetchHandling for Fetch v2 and v0, the whole record
// set down-converted (to magic 1 and 0) and written to io.Discard as the connection's writer
// writes it. The bytes allocated per fetch do not grow with the fetch size: the conversion
// works chunk by chunk in reused buffers.
func BenchmarkFetchDownConversion(b *testing.B) {
	for _, v := range []int16{2, 0} {
		for _, maxBytes := range []int32{1 << 20, 16 << 20} {
			b.Run(fmt.Sprintf("v%d/%dMiB", v, maxBytes>>20), func(b *testing.B) {
				done := make(chan struct{}, 1)
				c := benchConnDrain(b, func(f outFrame) {
					for i := range f.regions {
						if r := f.regions[i].conv; r != nil {
							if err := r.writeTo(io.Discard); err != nil {
								b.Error(err)
							}
						}
					}
					f.release()
					if f.key == 1 {
						done <- struct{}{}
					}
				})
				fillBench(b, c, int(maxBytes>>14)+1) // 16 KiB batches
				frame := fetchFrame(b, v, maxBytes)
				b.SetBytes(int64(maxBytes))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.handleFrame(frame); err != nil {
						b.Fatal(err)
					}
					<-done
				}
			})
		}
	}
}
