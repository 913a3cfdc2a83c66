package integration

// Wire details that stock clients revealed, checked over a raw connection.

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCompatFetchEmptyRecordsAreNotNull: a fetch partition without records
// carries an empty record set (size 0), never a null one (size -1), as Kafka
// answers. librdkafka 2.0.2 (Debian's kcat) rejects -1 with "invalid
// MessageSetSize -1", backs off, and never reaches the end of a partition, so
// `kcat -C -e` never exits.
func TestCompatFetchEmptyRecordsAreNotNull(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic = "empty-records"
	createTopic(t, newAdmin(t, b), topic, 1, nil)
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic))
	if err := cl.ProduceSync(testCtx(t, 20*time.Second), &kgo.Record{Value: []byte("one")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	c := dialRaw(t, b)
	cases := []struct {
		name      string
		partition int32
		offset    int64
		wantErr   int16
	}{
		{"at the log end", 0, 1, 0},
		{"offset out of range", 0, 5, 1},
		{"unknown partition", 7, 0, 3},
	}
	for _, v := range []int16{4, 11, 12} {
		for _, tc := range cases {
			resp := c.roundTrip(fetchRequest(topic, tc.partition, tc.offset, 0, 0), v).(*kmsg.FetchResponse)
			sp, err := fetchPartition(resp)
			if err != nil {
				t.Fatalf("v%d %s: %v", v, tc.name, err)
			}
			if sp.ErrorCode != tc.wantErr {
				t.Errorf("v%d %s: error %d, want %d", v, tc.name, sp.ErrorCode, tc.wantErr)
			}
			if sp.RecordBatches == nil {
				t.Errorf("v%d %s: records are null (size -1), want an empty record set (size 0)", v, tc.name)
			} else if len(sp.RecordBatches) != 0 {
				t.Errorf("v%d %s: %d record bytes, want none", v, tc.name, len(sp.RecordBatches))
			}
		}
	}
}

// TestCompatApiVersions records the API keys and version ranges the broker
// advertises (for docs/compatibility.md) and checks the ones every stock
// client of the suite needs are there.
func TestCompatApiVersions(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dialRaw(t, b)
	resp := c.roundTrip(apiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions v3: error %d", resp.ErrorCode)
	}
	var apis []advertisedAPI
	for _, k := range resp.ApiKeys {
		apis = append(apis, advertisedAPI{Key: k.ApiKey, Name: kmsg.NameForKey(k.ApiKey), Min: k.MinVersion, Max: k.MaxVersion})
	}
	if err := appendCompatResult(compatResult{Kind: "apiversions", Pass: true, APIs: apis}); err != nil {
		t.Fatalf("record ApiVersions: %v", err)
	}
	got := advertised(resp)
	// Keys the flows of this suite use: core, groups and admin.
	for _, key := range []int16{0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 32, 33, 35, 37, 42, 44} {
		if _, ok := got[key]; !ok {
			t.Errorf("key %d (%s) not advertised", key, kmsg.NameForKey(key))
		}
	}
}
