package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func sizePrefixed(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// strictReader fails the test if more than limit bytes are ever asked for:
// ReadFrame must not read (nor size a buffer) past a rejected size prefix.
type strictReader struct {
	t     *testing.T
	r     io.Reader
	limit int
	asked int
}

func (s *strictReader) Read(p []byte) (int, error) {
	s.asked += len(p)
	if s.asked > s.limit {
		s.t.Fatalf("reader asked for %d bytes, limit %d", s.asked, s.limit)
	}
	return s.r.Read(p)
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		max     int32
		buf     []byte
		want    []byte
		wantErr error
	}{
		{name: "ok", input: sizePrefixed([]byte("hello")), max: 100, want: []byte("hello")},
		{name: "ok reusing buffer", input: sizePrefixed([]byte("hello")), max: 100, buf: make([]byte, 0, 64), want: []byte("hello")},
		{name: "empty body", input: sizePrefixed(nil), max: 100, want: []byte{}},
		{name: "exactly max", input: sizePrefixed([]byte("abcd")), max: 4, want: []byte("abcd")},
		{name: "too large", input: sizePrefixed([]byte("abcde")), max: 4, wantErr: ErrFrameTooLarge},
		{name: "negative", input: []byte{0xff, 0xff, 0xff, 0xfe, 1, 2}, max: 100, wantErr: ErrNegativeSize},
		{name: "truncated body", input: sizePrefixed([]byte("hello"))[:7], max: 100, wantErr: io.ErrUnexpectedEOF},
		{name: "size only", input: sizePrefixed([]byte("hello"))[:4], max: 100, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated size", input: []byte{0, 0}, max: 100, wantErr: io.ErrUnexpectedEOF},
		{name: "clean eof", input: nil, max: 100, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(tt.input), tt.max, tt.buf)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !bytes.Equal(got, tt.want) {
				t.Fatalf("body = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadFrameReusesBuffer(t *testing.T) {
	buf := make([]byte, 0, 64)
	got, err := ReadFrame(bytes.NewReader(sizePrefixed([]byte("abc"))), 100, buf)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &buf[:1][0] {
		t.Fatal("body does not reuse the given buffer")
	}
}

func TestReadFrameSequence(t *testing.T) {
	var stream []byte
	bodies := [][]byte{[]byte("one"), nil, []byte("three")}
	for _, b := range bodies {
		stream = append(stream, sizePrefixed(b)...)
	}
	r := bytes.NewReader(stream)
	var buf []byte
	for i, want := range bodies {
		got, err := ReadFrame(r, 100, buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d = %q, want %q", i, got, want)
		}
		buf = got
	}
	if _, err := ReadFrame(r, 100, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after last frame: %v, want io.EOF", err)
	}
}

// A huge announced size is refused without reading further and without
// allocating anything near that size.
func TestReadFrameTooLargeDoesNotAllocate(t *testing.T) {
	huge := []byte{0x7f, 0xff, 0xff, 0xff, 1, 2, 3}
	var before, after runtimeMem
	before.read()
	const runs = 50
	for range runs {
		r := &strictReader{t: t, r: bytes.NewReader(huge), limit: 4}
		if _, err := ReadFrame(r, 1<<30, nil); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("err = %v", err)
		}
	}
	after.read()
	// Only the reader and the error are allocated: a few hundred bytes per
	// call, where a body would be 2 GiB.
	if perRun := (after.total - before.total) / runs; perRun > 1024 {
		t.Fatalf("%d bytes allocated per refused frame", perRun)
	}
	r := &strictReader{t: t, r: bytes.NewReader(huge), limit: 4}
	if _, err := ReadFrame(r, 1<<20, nil); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

// A peer announcing a big frame and sending a few bytes gets a buffer sized
// by what it sends, not by what it announced.
func TestReadFrameGrowsWithData(t *testing.T) {
	const announced = 64 << 20
	input := append(binary.BigEndian.AppendUint32(nil, announced), make([]byte, 10)...)
	var before, after runtimeMem
	before.read()
	_, err := ReadFrame(bytes.NewReader(input), announced, nil)
	after.read()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if grew := after.total - before.total; grew > 8<<20 {
		t.Fatalf("allocated %d bytes for a 10-byte body", grew)
	}
}

func TestReadFrameLargeBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (3*frameChunk)/16+5)
	got, err := ReadFrame(bytes.NewReader(sizePrefixed(body)), int32(len(body)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatal("large body differs")
	}
}
