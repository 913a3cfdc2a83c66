package integration

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// frame prefixes body with its int32 length.
func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// header is a request header v1 (v2 when flexible) without a body.
func header(key, version int16, corr int32, flexible bool) []byte {
	h := binary.BigEndian.AppendUint16(nil, uint16(key))
	h = binary.BigEndian.AppendUint16(h, uint16(version))
	h = binary.BigEndian.AppendUint32(h, uint32(corr))
	h = binary.BigEndian.AppendUint16(h, 3)
	h = append(h, "bad"...)
	if flexible {
		h = append(h, 0)
	}
	return h
}

func TestHostileFrames(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic = "hostile"
	createTopic(t, newAdmin(t, b), topic, 1, nil)

	// One producer and one consumer that live through every case on their
	// own connections.
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic))
	cons := newClient(t, b, kgo.ConsumePartitions(startOffsets(topic, 1)))
	healthy := func(t *testing.T, tag string) {
		t.Helper()
		ctx := testCtx(t, 20*time.Second)
		v := "after-" + tag
		if err := prod.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatalf("kgo produce after %s: %v", tag, err)
		}
		for {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("kgo consumer did not see %q after %s", v, tag)
			}
			for _, e := range fs.Errors() {
				t.Fatalf("kgo consume after %s: %v", tag, e.Err)
			}
			for _, r := range fs.Records() {
				if string(r.Value) == v {
					return
				}
			}
		}
	}
	healthy(t, "start")

	hugeLen := binary.BigEndian.AppendUint32(nil, 104857600+1)
	metaV12 := header(3, 12, 7, true)
	// Topics compact array with a length far beyond the frame.
	metaV12 = append(metaV12, 0xff, 0xff, 0xff, 0xff, 0x0f)
	produceV7 := header(0, 7, 8, false)
	// transactional_id: nullable string claiming 5000 bytes with 3 present.
	produceV7 = append(produceV7, 0x13, 0x88, 'a', 'b', 'c')
	apiVersionsV3BadString := header(18, 3, 9, true)
	// client_software_name compact string of length 2^31.
	apiVersionsV3BadString = append(apiVersionsV3BadString, 0x80, 0x80, 0x80, 0x80, 0x08)

	cases := []struct {
		name     string
		payload  []byte
		halfShut bool // close our write side after the payload
	}{
		{"garbage bytes", []byte{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0x05}, false},
		{"http request", []byte("GET / HTTP/1.1\r\nHost: kafka\r\n\r\n"), false},
		{"unknown api key", frame(header(0x7f7f, 0, 1, false)), false},
		{"negative length", append(binary.BigEndian.AppendUint32(nil, 0xfffffffe), 1, 2, 3, 4), false},
		{"zero length", binary.BigEndian.AppendUint32(nil, 0), false},
		{"length above socket.request.max.bytes", append(hugeLen, 0, 18, 0, 0), false},
		{"truncated body then close", append(binary.BigEndian.AppendUint32(nil, 100), header(18, 0, 2, false)...), true},
		{"metadata v12 undecodable body", frame(metaV12), false},
		{"produce v7 undecodable body", frame(produceV7), false},
		{"api versions v3 undecodable body", frame(apiVersionsV3BadString), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A bystander raw connection opened before the bad one.
			by := dialRaw(t, b)
			bad := dialRaw(t, b)
			if err := bad.writeRaw(tc.payload); err != nil {
				t.Fatalf("write payload: %v", err)
			}
			if tc.halfShut {
				if tcp, ok := bad.conn.(interface{ CloseWrite() error }); ok {
					if err := tcp.CloseWrite(); err != nil {
						t.Fatalf("half close: %v", err)
					}
				}
			}
			if err := bad.expectClosed(5 * time.Second); err != nil {
				t.Errorf("after %s: %v (want the broker to close this connection)", tc.name, err)
			}
			if !b.Running() {
				code, _ := b.exitCode()
				t.Fatalf("broker exited (status %d) after %s", code, tc.name)
			}
			resp := by.roundTrip(apiVersionsRequest(), 0).(*kmsg.ApiVersionsResponse)
			if resp.ErrorCode != 0 {
				t.Errorf("bystander ApiVersions v0 after %s: error %d", tc.name, resp.ErrorCode)
			}
			healthy(t, tc.name)
		})
	}
	if !b.Running() {
		t.Fatal("broker is not running after the hostile frames")
	}
	for i := 0; i < 3; i++ {
		healthy(t, fmt.Sprintf("end-%d", i))
	}
}
