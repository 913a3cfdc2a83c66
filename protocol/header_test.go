package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestHeaderVersions(t *testing.T) {
	tests := []struct {
		name              string
		key, version      int16
		wantReq, wantResp int16
	}{
		{"Produce v8", 0, 8, 1, 0},
		{"Produce v9", 0, 9, 2, 1},
		{"Fetch v11", 1, 11, 1, 0},
		{"Fetch v12", 1, 12, 2, 1},
		{"Metadata v8", 3, 8, 1, 0},
		{"Metadata v9", 3, 9, 2, 1},
		{"ControlledShutdown v0", 7, 0, 0, 0},
		{"ControlledShutdown v1", 7, 1, 1, 0},
		{"ControlledShutdown v3", 7, 3, 2, 1},
		{"ApiVersions v0", 18, 0, 1, 0},
		{"ApiVersions v2", 18, 2, 1, 0},
		{"ApiVersions v3", 18, 3, 2, 0},
		{"ApiVersions v4", 18, 4, 2, 0},
		{"ApiVersions future v9", 18, 9, 2, 0},
		{"Produce future v99", 0, 99, 2, 1},
		{"SaslHandshake v1 never flexible", 17, 1, 1, 0},
		{"CreateTopics v5", 19, 5, 2, 1},
		{"negative version", 0, -1, 1, 0},
		{"unknown key", 30000, 0, 1, 0},
		{"negative key", -5, 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RequestHeaderVersion(tt.key, tt.version); got != tt.wantReq {
				t.Errorf("RequestHeaderVersion(%d, %d) = %d, want %d", tt.key, tt.version, got, tt.wantReq)
			}
			if got := ResponseHeaderVersion(tt.key, tt.version); got != tt.wantResp {
				t.Errorf("ResponseHeaderVersion(%d, %d) = %d, want %d", tt.key, tt.version, got, tt.wantResp)
			}
		})
	}
}

// Every key and version kmsg knows agrees with kmsg's own flexibility.
func TestHeaderVersionsMatchKmsg(t *testing.T) {
	for k := int16(0); k < maxProbedKey; k++ {
		req := kmsg.RequestForKey(k)
		if req == nil {
			if KnownAPIKey(k) {
				t.Fatalf("key %d known here but not in kmsg", k)
			}
			continue
		}
		if MaxKnownVersion(k) != req.MaxVersion() {
			t.Fatalf("key %d: max %d, kmsg %d", k, MaxKnownVersion(k), req.MaxVersion())
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			if IsFlexible(k, v) != req.IsFlexible() {
				t.Fatalf("key %d v%d: flexible %v, kmsg %v", k, v, IsFlexible(k, v), req.IsFlexible())
			}
		}
	}
}

func strp(s string) *string { return &s }

// rawHeader builds a request frame body by hand, so that tagged fields can be
// included.
func rawHeader(key, version int16, corr int32, clientID *string, tags [][2][]byte, withClientID, flexible bool) []byte {
	b := kbin.AppendInt16(nil, key)
	b = kbin.AppendInt16(b, version)
	b = kbin.AppendInt32(b, corr)
	if withClientID {
		b = kbin.AppendNullableString(b, clientID)
	}
	if flexible {
		b = kbin.AppendUvarint(b, uint32(len(tags)))
		for _, tag := range tags {
			b = kbin.AppendUvarint(b, uint32(tag[0][0]))
			b = kbin.AppendUvarint(b, uint32(len(tag[1])))
			b = append(b, tag[1]...)
		}
	}
	return b
}

func TestParseRequestHeader(t *testing.T) {
	body := []byte{0xde, 0xad, 0xbe, 0xef}
	tests := []struct {
		name  string
		frame []byte
		want  RequestHeader
	}{
		{
			name:  "v0 ControlledShutdown",
			frame: append(rawHeader(7, 0, 11, nil, nil, false, false), body...),
			want:  RequestHeader{APIKey: 7, APIVersion: 0, CorrelationID: 11, Version: 0},
		},
		{
			name:  "v1 with client id",
			frame: append(rawHeader(0, 8, 12, strp("producer-1"), nil, true, false), body...),
			want:  RequestHeader{APIKey: 0, APIVersion: 8, CorrelationID: 12, ClientID: strp("producer-1"), Version: 1},
		},
		{
			name:  "v1 null client id",
			frame: append(rawHeader(3, 1, 13, nil, nil, true, false), body...),
			want:  RequestHeader{APIKey: 3, APIVersion: 1, CorrelationID: 13, Version: 1},
		},
		{
			name:  "v1 empty client id",
			frame: append(rawHeader(3, 1, 13, strp(""), nil, true, false), body...),
			want:  RequestHeader{APIKey: 3, APIVersion: 1, CorrelationID: 13, ClientID: strp(""), Version: 1},
		},
		{
			name:  "v2 with client id",
			frame: append(rawHeader(3, 12, 14, strp("rdkafka"), nil, true, true), body...),
			want:  RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 14, ClientID: strp("rdkafka"), Version: 2},
		},
		{
			name:  "v2 null client id",
			frame: append(rawHeader(18, 3, 15, nil, nil, true, true), body...),
			want:  RequestHeader{APIKey: 18, APIVersion: 3, CorrelationID: 15, Version: 2},
		},
		{
			name: "v2 tagged fields ignored",
			frame: append(rawHeader(18, 3, 16, strp("c"), [][2][]byte{
				{{0}, []byte("tag zero")}, {{5}, nil}, {{9}, bytes.Repeat([]byte{1}, 200)},
			}, true, true), body...),
			want: RequestHeader{APIKey: 18, APIVersion: 3, CorrelationID: 16, ClientID: strp("c"), Version: 2},
		},
		{
			name:  "future ApiVersions parsed as v2",
			frame: append(rawHeader(18, 7, 17, strp("new"), nil, true, true), body...),
			want:  RequestHeader{APIKey: 18, APIVersion: 7, CorrelationID: 17, ClientID: strp("new"), Version: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest, err := ParseRequestHeader(tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			if !headersEqual(got, tt.want) {
				t.Fatalf("header = %+v, want %+v", show(got), show(tt.want))
			}
			if !bytes.Equal(rest, body) {
				t.Fatalf("rest = %x, want %x", rest, body)
			}
		})
	}
}

// Frames written by kmsg's own request formatter parse back.
func TestParseRequestHeaderFromKmsg(t *testing.T) {
	reqs := []kmsg.Request{
		func() kmsg.Request { r := kmsg.NewPtrProduceRequest(); r.Version = 7; return r }(),
		func() kmsg.Request { r := kmsg.NewPtrProduceRequest(); r.Version = 9; return r }(),
		func() kmsg.Request { r := kmsg.NewPtrApiVersionsRequest(); r.Version = 3; return r }(),
		// ControlledShutdown v0 is left out: kmsg's formatter writes neither
		// its size nor its body; the hand-built frames above cover it.
		func() kmsg.Request { r := kmsg.NewPtrControlledShutdownRequest(); r.Version = 1; return r }(),
		func() kmsg.Request { r := kmsg.NewPtrMetadataRequest(); r.Version = 12; return r }(),
	}
	for _, clientID := range []*string{nil, strp("kbroker-test")} {
		var opts []kmsg.RequestFormatterOpt
		if clientID != nil {
			opts = append(opts, kmsg.FormatterClientID(*clientID))
		}
		f := kmsg.NewRequestFormatter(opts...)
		for _, req := range reqs {
			frame := f.AppendRequest(nil, req, 99)[4:]
			h, rest, err := ParseRequestHeader(frame)
			if err != nil {
				t.Fatalf("%T v%d: %v", req, req.GetVersion(), err)
			}
			if h.APIKey != req.Key() || h.APIVersion != req.GetVersion() || h.CorrelationID != 99 {
				t.Fatalf("%T v%d: header %+v", req, req.GetVersion(), show(h))
			}
			if !strEqual(h.ClientID, clientID) {
				t.Fatalf("%T v%d: client id %v, want %v", req, req.GetVersion(), show(h).ClientID, clientID)
			}
			back := kmsg.RequestForKey(h.APIKey)
			back.SetVersion(h.APIVersion)
			if err := back.ReadFrom(rest); err != nil {
				t.Fatalf("%T v%d: body does not decode: %v", req, req.GetVersion(), err)
			}
		}
	}
}

func TestParseRequestHeaderErrors(t *testing.T) {
	valid := rawHeader(3, 12, 14, strp("client"), [][2][]byte{{{1}, []byte("xyz")}}, true, true)
	tests := []struct {
		name    string
		frame   []byte
		unknown bool
	}{
		{name: "empty", frame: nil},
		{name: "seven bytes", frame: valid[:7]},
		{name: "no client id", frame: valid[:8]},
		{name: "half client id length", frame: valid[:9]},
		{name: "client id cut", frame: valid[:12]},
		{name: "no tag section", frame: valid[:16]},
		{name: "tag cut", frame: valid[:len(valid)-1]},
		{name: "bad client id length", frame: append(rawHeader(3, 1, 1, nil, nil, false, false), 0xff, 0xf0)},
		{name: "overlong tag count varint", frame: append(rawHeader(3, 12, 1, nil, nil, true, false), 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{name: "huge tag count", frame: append(rawHeader(3, 12, 1, nil, nil, true, false), 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{name: "unknown key", frame: rawHeader(12345, 0, 77, nil, nil, true, false), unknown: true},
		{name: "negative key", frame: rawHeader(-1, 0, 77, nil, nil, true, false), unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, rest, err := ParseRequestHeader(tt.frame)
			if err == nil {
				t.Fatalf("no error, header %+v rest %x", show(h), rest)
			}
			if errors.Is(err, ErrUnknownAPIKey) != tt.unknown {
				t.Fatalf("err = %v, unknown key expected: %v", err, tt.unknown)
			}
			if tt.unknown && (h.CorrelationID != 77 || h.APIVersion != 0) {
				t.Fatalf("unknown key: header %+v lacks key/version/correlation", show(h))
			}
		})
	}
}

func TestParseRequestHeaderCopiesClientID(t *testing.T) {
	frame := rawHeader(3, 1, 1, strp("abc"), nil, true, false)
	h, _, err := ParseRequestHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 'x'
	}
	if *h.ClientID != "abc" {
		t.Fatalf("client id changed with the frame buffer: %q", *h.ClientID)
	}
}

type shownHeader struct {
	APIKey, APIVersion int16
	CorrelationID      int32
	ClientID           string
	Version            int16
}

func show(h RequestHeader) shownHeader {
	id := "<nil>"
	if h.ClientID != nil {
		id = *h.ClientID
	}
	return shownHeader{h.APIKey, h.APIVersion, h.CorrelationID, id, h.Version}
}

func headersEqual(a, b RequestHeader) bool {
	return show(a) == show(b) && strEqual(a.ClientID, b.ClientID)
}

func strEqual(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
