package protocol

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAppendResponse(t *testing.T) {
	metadata := func(v int16) kmsg.Response {
		r := kmsg.NewPtrMetadataResponse()
		r.Version = v
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = 1, "localhost", 9092
		r.Brokers = append(r.Brokers, b)
		return r
	}
	apiVersions := func(v int16) kmsg.Response {
		r := kmsg.NewPtrApiVersionsResponse()
		r.Version = v
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = 18, 0, 4
		r.ApiKeys = append(r.ApiKeys, k)
		return r
	}
	tests := []struct {
		name       string
		resp       kmsg.Response
		wantTagged bool
	}{
		{"Metadata v8 header v0", metadata(8), false},
		{"Metadata v9 header v1", metadata(9), true},
		{"Metadata v12 header v1", metadata(12), true},
		{"ApiVersions v3 header v0", apiVersions(3), false},
		{"ApiVersions v0 header v0", apiVersions(0), false},
		{"Produce v9 header v1", func() kmsg.Response { r := kmsg.NewPtrProduceResponse(); r.Version = 9; return r }(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			frame := AppendResponse(append([]byte(nil), prefix...), 4242, tt.resp)
			if !bytes.HasPrefix(frame, prefix) {
				t.Fatal("dst prefix overwritten")
			}
			frame = frame[len(prefix):]
			if size := binary.BigEndian.Uint32(frame); int(size) != len(frame)-4 {
				t.Fatalf("size %d, frame holds %d", size, len(frame)-4)
			}
			if corr := int32(binary.BigEndian.Uint32(frame[4:])); corr != 4242 {
				t.Fatalf("correlation id %d", corr)
			}
			body := frame[8:]
			if tt.wantTagged {
				if body[0] != 0 {
					t.Fatalf("tagged-field byte %d, want 0", body[0])
				}
				body = body[1:]
			}
			want := tt.resp.AppendTo(nil)
			if !bytes.Equal(body, want) {
				t.Fatalf("body differs:\n got %x\nwant %x", body, want)
			}
			back := kmsg.ResponseForKey(tt.resp.Key())
			back.SetVersion(tt.resp.GetVersion())
			if err := back.ReadFrom(body); err != nil {
				t.Fatalf("body does not decode back: %v", err)
			}
		})
	}
}

func TestAppendAPIVersionsUnsupported(t *testing.T) {
	apis := []APIRange{{Key: 0, Min: 3, Max: 11}, {Key: 18, Min: 0, Max: 4}}
	frame := AppendAPIVersionsUnsupported(nil, 7, apis)
	// size, correlation id, error code (2), array count (4), 3 x int16 each.
	wantLen := 4 + 4 + 2 + 4 + 6*len(apis)
	if len(frame) != wantLen {
		t.Fatalf("frame of %d bytes, want %d (v0 layout: no tagged fields)", len(frame), wantLen)
	}
	if size := binary.BigEndian.Uint32(frame); int(size) != len(frame)-4 {
		t.Fatalf("size %d for %d bytes", size, len(frame)-4)
	}
	if corr := binary.BigEndian.Uint32(frame[4:]); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(frame[8:]); err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error code %d, want %d", resp.ErrorCode, kerr.UnsupportedVersion.Code)
	}
	if len(resp.ApiKeys) != len(apis) {
		t.Fatalf("%d keys, want %d", len(resp.ApiKeys), len(apis))
	}
	for i, k := range resp.ApiKeys {
		if got := (APIRange{k.ApiKey, k.MinVersion, k.MaxVersion}); got != apis[i] {
			t.Fatalf("key %d: %+v, want %+v", i, got, apis[i])
		}
	}
}
