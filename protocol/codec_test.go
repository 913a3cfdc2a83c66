package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/snappy"
)

func TestCompressRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty": {},
		"short": []byte("hello, kafka"),
		"text":  bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog "), 3000),
	}
	for _, codec := range allCodecs {
		for name, in := range inputs {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				c, err := Compress(codec, in)
				if err != nil {
					t.Fatal(err)
				}
				out, err := Decompress(codec, c, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, in) {
					t.Fatalf("round trip changed %d bytes into %d", len(in), len(out))
				}
			})
		}
	}
}

func TestSnappyXerial(t *testing.T) {
	in := bytes.Repeat([]byte("xerial framed snappy as the Java client writes it "), 2000)
	tests := []struct {
		name    string
		data    []byte
		want    []byte
		wantErr bool
	}{
		{name: "many blocks", data: appendXerial(nil, in, 32<<10), want: in},
		{name: "one block", data: appendXerial(nil, in, len(in)), want: in},
		{name: "header only", data: appendXerial(nil, nil, 1), want: []byte{}},
		{name: "raw block", data: snappy.Encode(nil, in), want: in},
		{name: "cut chunk length", data: appendXerial(nil, in, 32<<10)[:18], wantErr: true},
		{name: "cut chunk", data: func() []byte { b := appendXerial(nil, in, 32<<10); return b[:len(b)-5] }(), wantErr: true},
		{name: "chunk not snappy", data: append(appendXerial(nil, nil, 1), 0, 0, 0, 3, 0xff, 0xff, 0xff), wantErr: true},
		{name: "garbage raw", data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Decompress(CodecSnappy, tt.data, 0)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(out, tt.want) {
				t.Fatalf("got %d bytes, want %d", len(out), len(tt.want))
			}
		})
	}
}

// Highly compressible input that inflates past the limit is refused, and the
// memory used stays near the limit, not the inflated size.
func TestDecompressBomb(t *testing.T) {
	zeros := make([]byte, 64<<20)
	const limit = 1 << 20
	for _, codec := range allCodecs[1:] {
		t.Run(codec.String(), func(t *testing.T) {
			bomb, err := Compress(codec, zeros)
			if err != nil {
				t.Fatal(err)
			}
			cases := map[string][]byte{"plain": bomb}
			if codec == CodecSnappy {
				cases["xerial"] = appendXerial(nil, zeros, 1<<20)
			}
			for name, data := range cases {
				var before, after runtimeMem
				before.read()
				_, err = Decompress(codec, data, limit)
				after.read()
				if !errors.Is(err, ErrDecompressedTooLarge) {
					t.Fatalf("%s: err = %v, want ErrDecompressedTooLarge", name, err)
				}
				if grew := after.total - before.total; grew > 24<<20 {
					t.Fatalf("%s: %d bytes allocated for a %d-byte limit", name, grew, limit)
				}
			}
		})
	}
	if _, err := Decompress(CodecNone, zeros[:limit+1], limit); !errors.Is(err, ErrDecompressedTooLarge) {
		t.Fatalf("none: err = %v", err)
	}
}

func TestDecompressLimitExact(t *testing.T) {
	in := bytes.Repeat([]byte{'a'}, 5000)
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			c, err := Compress(codec, in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Decompress(codec, c, len(in)); err != nil {
				t.Fatalf("at the limit: %v", err)
			}
			if _, err := Decompress(codec, c, len(in)-1); !errors.Is(err, ErrDecompressedTooLarge) {
				t.Fatalf("one below: err = %v", err)
			}
		})
	}
}

func TestUnknownCodec(t *testing.T) {
	if _, err := Decompress(5, []byte("x"), 0); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("Decompress: %v", err)
	}
	if _, err := Compress(-1, []byte("x")); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("Compress: %v", err)
	}
	if got := Codec(7).String(); got != "codec(7)" {
		t.Fatalf("String = %q", got)
	}
}
