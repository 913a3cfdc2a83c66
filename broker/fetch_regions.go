package broker

// Zero-copy fetch. A Fetch handler does not read record bytes: it takes each partition's
// answer as a log.Region (a place in a segment file) and puts a random 16-byte marker in
// the partition's record set. kmsg encodes the response with the markers; spliceRegions then
// cuts the encoded frame at each marker, rewrites the length prefix before it for the
// region's size, and hands the writer the pieces: frame bytes, a file region, frame bytes,
// and so on. The writer sends large regions with sendfile, straight from the page cache
// (see conn_write.go). The frame is never re-encoded by hand: only the record set's length
// prefix, which the protocol defines as an INT32 (Fetch v0-11) or an unsigned varint of
// length+1 (v12, flexible), is rewritten. A record set of Fetch v0-3 is a region to convert
// to an older message format on the way out (fetch_downconvert.go), its size fixed up front.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/log"
)

const markerSize = 16

// regionMark is a partition's record set that still sits in a segment file.
type regionMark struct {
	marker [markerSize]byte
	region log.Region
	conv   *downConversion // set instead of region for a record set to down-convert
}

// size is the record set's size in the response.
func (m *regionMark) size() int64 {
	if m.conv != nil {
		return m.conv.size
	}
	return m.region.Size
}

// release lets go of the record set's file.
func (m *regionMark) release() {
	m.region.Release()
	if m.conv != nil {
		m.conv.release()
	}
}

// fetchRegions collects the regions of one Fetch response.
type fetchRegions struct {
	marks []regionMark
}

// add records region as the record set of sp. An empty region is an empty record set.
func (f *fetchRegions) add(sp *kmsg.FetchResponseTopicPartition, region log.Region) {
	f.addMark(sp, regionMark{region: region})
}

// addConverted records conv as the record set of sp.
func (f *fetchRegions) addConverted(sp *kmsg.FetchResponseTopicPartition, conv *downConversion) {
	f.addMark(sp, regionMark{conv: conv})
}

func (f *fetchRegions) addMark(sp *kmsg.FetchResponseTopicPartition, m regionMark) {
	if m.size() == 0 {
		m.release()
		sp.RecordBatches = []byte{}
		return
	}
	binary.LittleEndian.PutUint64(m.marker[0:], rand.Uint64())
	binary.LittleEndian.PutUint64(m.marker[8:], rand.Uint64())
	f.marks = append(f.marks, m)
	sp.RecordBatches = append([]byte(nil), m.marker[:]...)
}

// release lets go of every region not handed to the writer.
func (f *fetchRegions) release() {
	for i := range f.marks {
		f.marks[i].release()
	}
	f.marks = f.marks[:0]
}

// splicedRegion is a region of a frame followed by the frame bytes that come after it; conv,
// when set, replaces region (a record set to down-convert).
type splicedRegion struct {
	region log.Region
	conv   *downConversion
	after  []byte
}

// release lets go of the record set's file.
func (r *splicedRegion) release() {
	r.region.Release()
	if r.conv != nil {
		r.conv.release()
	}
}

// spliceRegions turns a response frame encoded with markers into head bytes and regions.
// flexible says whether the record sets carry compact (varint) length prefixes. The frame's
// size prefix is rewritten for the real record sizes. On success the regions belong to the
// result; on error they still belong to f.
func spliceRegions(frame []byte, flexible bool, f *fetchRegions) ([]byte, []splicedRegion, error) {
	if len(frame) < 4 || len(f.marks) == 0 {
		return nil, nil, errors.New("nothing to splice")
	}
	prefix := 4 // INT32 length
	if flexible {
		prefix = 1 // uvarint(markerSize+1) fits one byte
	}
	type cut struct{ at, end int } // frame[at:end] is a marker with its length prefix
	cuts := make([]cut, 0, len(f.marks))
	from := 0
	for i := range f.marks {
		m := &f.marks[i]
		j := bytes.Index(frame[from:], m.marker[:])
		if j < 0 {
			return nil, nil, fmt.Errorf("record set marker %d of %d not found in the encoded response", i+1, len(f.marks))
		}
		at := from + j - prefix
		if at < 4 || !markerPrefixOK(frame[at:from+j], flexible) {
			return nil, nil, fmt.Errorf("record set marker %d of %d has an unexpected length prefix", i+1, len(f.marks))
		}
		cuts = append(cuts, cut{at: at, end: from + j + markerSize})
		from = from + j + markerSize
	}
	// Rebuild: the bytes before each cut with the region's real length prefix appended, then
	// the region; the bytes after the last cut end the frame.
	out := make([]splicedRegion, len(cuts))
	var head []byte
	prev := 0
	total := int64(0)
	for i, c := range cuts {
		m := &f.marks[i]
		seg := frame[prev:c.at:c.at] // capped: appending the prefix must copy, not overwrite
		seg = appendLengthPrefix(seg, m.size(), flexible)
		if i == 0 {
			head = seg
		} else {
			out[i-1].after = seg
		}
		out[i].region, out[i].conv = m.region, m.conv
		total += int64(len(seg)) + m.size()
		prev = c.end
	}
	out[len(out)-1].after = frame[prev:]
	total += int64(len(frame) - prev)
	if total-4 > 1<<31-1 {
		return nil, nil, fmt.Errorf("response of %d bytes exceeds a frame", total-4)
	}
	binary.BigEndian.PutUint32(head, uint32(total-4))
	f.marks = f.marks[:0]
	return head, out, nil
}

// markerPrefixOK checks the length prefix kmsg wrote before a marker.
func markerPrefixOK(p []byte, flexible bool) bool {
	if flexible {
		return len(p) == 1 && p[0] == markerSize+1
	}
	return len(p) == 4 && binary.BigEndian.Uint32(p) == markerSize
}

// appendLengthPrefix appends the length prefix of a record set of n bytes.
func appendLengthPrefix(dst []byte, n int64, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(dst, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// materializeRegions reads every region into the record set that carries its marker: the
// way out when a frame cannot be spliced, at the cost of a copy.
func materializeRegions(resp *kmsg.FetchResponse, f *fetchRegions) error {
	defer f.release()
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			sp := &resp.Topics[i].Partitions[j]
			if len(sp.RecordBatches) != markerSize {
				continue
			}
			for k := range f.marks {
				m := &f.marks[k]
				if !bytes.Equal(sp.RecordBatches, m.marker[:]) {
					continue
				}
				data, err := m.readAll()
				if err != nil {
					return err
				}
				sp.RecordBatches = data
				break
			}
		}
	}
	return nil
}

// readAll reads (or converts) the whole record set.
func (m *regionMark) readAll() ([]byte, error) {
	if m.conv == nil {
		return m.region.ReadTo(make([]byte, 0, m.region.Size))
	}
	var buf bytes.Buffer
	buf.Grow(int(m.conv.size))
	err := m.conv.writeTo(&buf)
	return buf.Bytes(), err
}
