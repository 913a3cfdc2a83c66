package protocol

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// legacyMsg is a message of a test message set.
type legacyMsg struct {
	offset     int64
	timestamp  int64
	attrs      int8
	key, value []byte
}

// legacySet encodes msgs as an uncompressed message set of magic.
func legacySet(magic int8, msgs []legacyMsg) []byte {
	var out []byte
	for _, m := range msgs {
		out = appendLegacyMessage(out, m.offset, magic, m.attrs, m.timestamp, m.key, m.value)
	}
	return out
}

// legacyWrapper encodes msgs (inner offsets as given) compressed with codec in
// one wrapper at wrapperOffset, as a producer of magic writes it.
func legacyWrapper(tb testing.TB, magic int8, codec Codec, wrapperOffset, wrapperTS int64, msgs []legacyMsg) []byte {
	tb.Helper()
	inner := legacySet(magic, msgs)
	value, err := appendKafkaCompressed(nil, Compression{Codec: codec}, magic, inner)
	if err != nil {
		tb.Fatal(err)
	}
	return appendLegacyMessage(nil, wrapperOffset, magic, int8(codec), wrapperTS, nil, value)
}

// testLegacyMsgs returns n messages with offsets 0..n-1 (inner offsets of a
// wrapper), timestamps ts0+i, some keys null, some values empty.
func testLegacyMsgs(n int, ts0 int64) []legacyMsg {
	out := make([]legacyMsg, n)
	for i := range out {
		out[i] = legacyMsg{offset: int64(i), timestamp: ts0 + int64(i), value: fmt.Appendf(nil, "value-%d the quick brown fox", i)}
		if i%3 != 1 {
			out[i].key = fmt.Appendf(nil, "key-%d", i)
		}
		if i%5 == 4 {
			out[i].value = []byte{}
		}
	}
	return out
}

// readLegacy decodes a message set deeply: the messages of wrappers with their
// absolute offsets (Kafka's rule for magic 1 wrappers), timestamps as a
// consumer sees them, and the wrappers' attributes by position.
type readMsg struct {
	legacyMsg
	magic        int8
	wrapperAttrs int8 // -1 when not in a wrapper
}

func readLegacy(tb testing.TB, set []byte) []readMsg {
	tb.Helper()
	var out []readMsg
	for rest := set; len(rest) > 0; {
		n, err := nextEntrySize(rest)
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			break // a partial message at the end, as consumers skip it
		}
		m, err := parseLegacyMessage(rest[:n])
		if err != nil {
			tb.Fatal(err)
		}
		if !m.crcOK() {
			tb.Fatalf("message at offset %d: bad crc", m.offset)
		}
		rest = rest[n:]
		if m.codec() == CodecNone {
			out = append(out, readMsg{legacyMsg{m.offset, m.timestamp, m.attrs, m.key, m.value}, m.magic, -1})
			continue
		}
		var inner []byte
		if m.codec() == CodecLZ4 && m.magic == 0 {
			inner, err = unlz4Legacy(nil, m.value, 0)
		} else {
			inner, err = Decompress(m.codec(), m.value, 0)
		}
		if err != nil {
			tb.Fatal(err)
		}
		var msgs []legacyMessage
		for r := inner; len(r) > 0; {
			k, err := nextEntrySize(r)
			if err != nil || k == 0 {
				tb.Fatalf("inner set: %d %v", k, err)
			}
			im, err := parseLegacyMessage(r[:k])
			if err != nil || !im.crcOK() {
				tb.Fatalf("inner message: %v (crc ok %v)", err, im.crcOK())
			}
			msgs = append(msgs, im)
			r = r[k:]
		}
		base := int64(0)
		if m.magic == 1 {
			base = m.offset - msgs[len(msgs)-1].offset
		}
		for _, im := range msgs {
			off := im.offset
			if m.magic == 1 {
				off += base
			}
			out = append(out, readMsg{legacyMsg{off, im.timestamp, im.attrs, im.key, im.value}, im.magic, m.attrs})
		}
	}
	return out
}

// le32 reads a little-endian uint32 (LZ4 frame fields).
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
