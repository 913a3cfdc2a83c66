package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestListOffsetsByTimestamp(t *testing.T) {
	t.Parallel()
	const topic = "timed"
	b := startBroker(t)
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 1, nil)

	// Ten single-record batches at base+i s, except offset 6 which carries the
	// largest timestamp (base+20 s): lookups must find the first offset whose
	// timestamp is >= the target, not assume the log is time-ordered.
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	ts := make([]int64, 10)
	for i := range ts {
		ts[i] = base + int64(i)*1000
	}
	ts[6] = base + 20000
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic))
	ctx := testCtx(t, 30*time.Second)
	for i, stamp := range ts {
		r := &kgo.Record{Value: []byte(fmt.Sprintf("t%d", i)), Timestamp: time.UnixMilli(stamp)}
		res := prod.ProduceSync(ctx, r)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
		if res[0].Record.Offset != int64(i) {
			t.Fatalf("record %d stored at offset %d", i, res[0].Record.Offset)
		}
	}

	cases := []struct {
		name       string
		target     int64
		wantOffset int64
		wantTS     int64
	}{
		{"before everything", base - 5000, 0, base},
		{"exact first", base, 0, base},
		{"between 2 and 3", base + 2500, 3, base + 3000},
		{"exact 5", base + 5000, 5, base + 5000},
		{"after 5 finds the out-of-order maximum at 6", base + 5001, 6, base + 20000},
		{"exact 7 still finds 6 first", base + 7000, 6, base + 20000},
		{"exact maximum", base + 20000, 6, base + 20000},
		{"after every record gives the end offset", base + 20001, 10, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lo, err := adm.ListOffsetsAfterMilli(testCtx(t, 15*time.Second), tc.target, topic)
			if err != nil {
				t.Fatalf("ListOffsets ts=%d: %v", tc.target, err)
			}
			o, ok := lo.Lookup(topic, 0)
			if !ok || o.Err != nil {
				t.Fatalf("ListOffsets ts=%d: partition 0 missing or failed: %+v", tc.target, o)
			}
			if o.Offset != tc.wantOffset {
				t.Errorf("ListOffsets ts=base%+d: offset %d, want %d", tc.target-base, o.Offset, tc.wantOffset)
			}
			if tc.wantTS >= 0 && o.Timestamp != tc.wantTS {
				t.Errorf("ListOffsets ts=base%+d: timestamp base%+d, want base%+d", tc.target-base, o.Timestamp-base, tc.wantTS-base)
			}
		})
	}

	t.Run("earliest and latest", func(t *testing.T) {
		ctx := testCtx(t, 15*time.Second)
		start, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("ListOffsets earliest: %v", err)
		}
		if o, _ := start.Lookup(topic, 0); o.Err != nil || o.Offset != 0 {
			t.Errorf("ListOffsets earliest (-2): %d %v, want 0", o.Offset, o.Err)
		}
		if e := endOffsets(t, adm, topic)[0]; e != 10 {
			t.Errorf("ListOffsets latest (-1): %d, want 10", e)
		}
	})

	t.Run("max timestamp v7", func(t *testing.T) {
		rc := dialRaw(t, b)
		resp := rc.roundTrip(listOffsetsRequest(topic, 0, -3), 7).(*kmsg.ListOffsetsResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("ListOffsets v7 -3: %+v", resp.Topics)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Offset != 6 || p.Timestamp != base+20000 {
			t.Errorf("ListOffsets v7 max timestamp (-3): error %d offset %d timestamp base%+d; want 0, 6, base+20000", p.ErrorCode, p.Offset, p.Timestamp-base)
		}
	})

	t.Run("unknown partition", func(t *testing.T) {
		rc := dialRaw(t, b)
		resp := rc.roundTrip(listOffsetsRequest(topic, 7, -1), 7).(*kmsg.ListOffsetsResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 3 {
			t.Errorf("ListOffsets partition 7 of a 1-partition topic: error %d, want 3 UNKNOWN_TOPIC_OR_PARTITION", p.ErrorCode)
		}
	})
}
