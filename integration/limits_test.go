package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConnectionLimits: connections beyond max.connections (and max.connections.per.ip) are
// closed at once, while the connections already open keep working.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"max.connections", "max.connections.per.ip"} {
		key := key
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			b := startBroker(t, key+"=3")
			var open []*rawConn
			for i := 0; i < 3; i++ {
				rc := dialRaw(t, b)
				if resp := rc.roundTrip(apiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
					t.Fatalf("connection %d: ApiVersions error %d", i, resp.ErrorCode)
				}
				open = append(open, rc)
			}
			extra := dialRaw(t, b)
			if err := extra.expectClosed(5 * time.Second); err != nil {
				t.Fatalf("fourth connection with %s=3: %v", key, err)
			}
			for i, rc := range open {
				if resp := rc.roundTrip(apiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
					t.Fatalf("connection %d after the refusal: ApiVersions error %d", i, resp.ErrorCode)
				}
			}
			// Closing one frees a slot.
			open[0].conn.Close()
			eventually(t, 5*time.Second, func() error {
				rc := dialRaw(t, b)
				defer rc.conn.Close()
				_, err := rc.send(apiVersionsRequest(), 3)
				if err != nil {
					return err
				}
				_, err = rc.readFrame(2 * time.Second)
				return err
			})
		})
	}
}
