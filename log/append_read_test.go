package log

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestAppendAssignsOffsetsAndEpoch(t *testing.T) {
	l, _ := newLog(t, testOpts())
	var want []int64
	for i := 0; i < 4; i++ {
		r := appendT(t, l, mkBatch(t, spec{n: 3}), 7)
		if r.FirstOffset != int64(i*3) || r.LastOffset != int64(i*3+2) || r.Duplicate {
			t.Fatalf("append %d: got %+v", i, r)
		}
		want = append(want, int64(i*3))
	}
	if got := l.LogEndOffset(); got != 12 {
		t.Fatalf("LogEndOffset = %d, want 12", got)
	}
	hs := readAll(t, l)
	if len(hs) != len(want) {
		t.Fatalf("read %d batches, want %d", len(hs), len(want))
	}
	for i, h := range hs {
		if h.BaseOffset != want[i] || h.LeaderEpoch != 7 {
			t.Errorf("batch %d: base %d epoch %d, want %d 7", i, h.BaseOffset, h.LeaderEpoch, want[i])
		}
	}
	if e, ok := l.LatestEpoch(); !ok || e != 7 {
		t.Fatalf("LatestEpoch = %d %v", e, ok)
	}
	if l.Size() == 0 {
		t.Fatal("Size = 0")
	}
}

func TestAppendRejectsMalformedBatch(t *testing.T) {
	good := mkBatch(t, spec{n: 2})
	wrongMagic := append([]byte(nil), good...)
	wrongMagic[offMagic] = 1
	badLen := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(badLen[offBatchLength:], uint32(len(good)))
	two := append(append([]byte(nil), good...), good...)
	cases := map[string][]byte{
		"empty":       nil,
		"short":       good[:40],
		"magic 1":     wrongMagic,
		"long length": badLen,
		"two batches": two,
		"truncated":   good[:len(good)-1],
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			l, _ := newLog(t, testOpts())
			if _, err := l.Append(b, 0); !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("err = %v, want ErrCorruptBatch", err)
			}
			if l.LogEndOffset() != 0 {
				t.Fatal("log end moved")
			}
		})
	}
}

func TestReadLimits(t *testing.T) {
	l, _ := newLog(t, testOpts())
	// five batches of 4 records at offsets 0,4,8,12,16; all the same size
	var size int64
	for i := 0; i < 5; i++ {
		b := mkBatch(t, spec{n: 4, valueSize: 50})
		size = int64(len(b))
		appendT(t, l, b, 0)
	}
	if err := l.DeleteBefore(2); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		offset    int64
		maxBytes  int64
		maxOffset int64
		minOne    bool
		wantBases []int64
		wantFirst int64
		wantErr   error
	}{
		{name: "all", offset: 4, maxBytes: 1 << 20, maxOffset: 100, wantBases: []int64{4, 8, 12, 16}, wantFirst: 4},
		{name: "mid batch returns containing batch", offset: 6, maxBytes: 1 << 20, maxOffset: 100, wantBases: []int64{4, 8, 12, 16}, wantFirst: 4},
		{name: "log start mid batch", offset: 2, maxBytes: 1 << 20, maxOffset: 100, wantBases: []int64{0, 4, 8, 12, 16}, wantFirst: 0},
		{name: "maxBytes two batches", offset: 4, maxBytes: 2 * size, maxOffset: 100, wantBases: []int64{4, 8}, wantFirst: 4},
		{name: "maxBytes just under two", offset: 4, maxBytes: 2*size - 1, maxOffset: 100, wantBases: []int64{4}, wantFirst: 4},
		{name: "too small without minOne", offset: 4, maxBytes: size - 1, maxOffset: 100, wantBases: nil, wantFirst: 4},
		{name: "too small with minOne", offset: 4, maxBytes: 10, maxOffset: 100, minOne: true, wantBases: []int64{4}, wantFirst: 4},
		{name: "zero bytes with minOne", offset: 9, maxBytes: 0, maxOffset: 100, minOne: true, wantBases: []int64{8}, wantFirst: 8},
		{name: "high watermark", offset: 4, maxBytes: 1 << 20, maxOffset: 12, wantBases: []int64{4, 8}, wantFirst: 4},
		{name: "high watermark mid batch", offset: 4, maxBytes: 1 << 20, maxOffset: 13, wantBases: []int64{4, 8, 12}, wantFirst: 4},
		{name: "at high watermark", offset: 12, maxBytes: 1 << 20, maxOffset: 12, minOne: true, wantBases: nil, wantFirst: 12},
		{name: "at log end", offset: 20, maxBytes: 1 << 20, maxOffset: 100, wantBases: nil, wantFirst: 20},
		{name: "beyond log end", offset: 21, maxBytes: 1 << 20, maxOffset: 100, wantErr: ErrOffsetOutOfRange},
		{name: "below log start", offset: 1, maxBytes: 1 << 20, maxOffset: 100, wantErr: ErrOffsetOutOfRange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := l.Read(tc.offset, int32(tc.maxBytes), tc.maxOffset, tc.minOne)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var bases []int64
			for _, h := range batchesIn(t, r.Data) {
				bases = append(bases, h.BaseOffset)
			}
			if !equalInts(bases, tc.wantBases) || r.FirstOffset != tc.wantFirst {
				t.Fatalf("got bases %v first %d, want %v first %d", bases, r.FirstOffset, tc.wantBases, tc.wantFirst)
			}
		})
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAppendAsFollower(t *testing.T) {
	leader, _ := newLog(t, testOpts())
	for i := 0; i < 3; i++ {
		appendT(t, leader, mkBatch(t, spec{n: 2, idem: true, pid: 9, epoch: 0, seq: int32(2 * i)}), 1)
	}
	for i := 0; i < 2; i++ {
		appendT(t, leader, mkBatch(t, spec{n: 3}), 4)
	}
	all, err := leader.Read(0, 1<<20, 1<<62, true)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("copies the leader", func(t *testing.T) {
		f, _ := newLog(t, testOpts())
		// a fetch response may end with a partial batch
		res, err := f.AppendAsFollower(append(append([]byte(nil), all.Data...), all.Data[:30]...))
		if err != nil {
			t.Fatal(err)
		}
		if res.FirstOffset != 0 || res.LastOffset != 11 || f.LogEndOffset() != 12 {
			t.Fatalf("result %+v, log end %d", res, f.LogEndOffset())
		}
		got, err := f.Read(0, 1<<20, 1<<62, true)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Data) != string(all.Data) {
			t.Fatal("follower bytes differ from the leader's")
		}
		if fe, off := f.EndOffsetForEpoch(1); fe != 1 || off != 6 {
			t.Fatalf("EndOffsetForEpoch(1) = %d %d, want 1 6", fe, off)
		}
		// producer state came along: a retry of the leader's last idempotent batch is a duplicate
		r, err := f.Append(mkBatch(t, spec{n: 2, idem: true, pid: 9, epoch: 0, seq: 4}), 5)
		if err != nil || !r.Duplicate || r.FirstOffset != 4 {
			t.Fatalf("retry: %+v %v", r, err)
		}
	})
	t.Run("rejects a start below the log end", func(t *testing.T) {
		f, _ := newLog(t, testOpts())
		if _, err := f.AppendAsFollower(all.Data); err != nil {
			t.Fatal(err)
		}
		if _, err := f.AppendAsFollower(all.Data); !errors.Is(err, ErrUnexpectedOffset) {
			t.Fatalf("err = %v, want ErrUnexpectedOffset", err)
		}
	})
	t.Run("rejects a bad CRC", func(t *testing.T) {
		f, _ := newLog(t, testOpts())
		bad := append([]byte(nil), all.Data...)
		bad[len(bad)-1] ^= 0xff
		if _, err := f.AppendAsFollower(bad); !errors.Is(err, ErrCorruptBatch) {
			t.Fatalf("err = %v, want ErrCorruptBatch", err)
		}
		if f.LogEndOffset() != 0 {
			t.Fatal("partial append")
		}
	})
	t.Run("accepts an offset gap", func(t *testing.T) {
		f, _ := newLog(t, testOpts())
		b := mkBatch(t, spec{n: 2})
		setBaseOffset(b, 100)
		if _, err := f.AppendAsFollower(b); err != nil {
			t.Fatal(err)
		}
		if f.LogEndOffset() != 102 {
			t.Fatalf("log end %d, want 102", f.LogEndOffset())
		}
		r, err := f.Read(0, 1<<20, 1<<62, true)
		if err != nil || len(batchesIn(t, r.Data)) != 1 || r.FirstOffset != 100 {
			t.Fatalf("read %+v %v", r, err)
		}
	})
}
