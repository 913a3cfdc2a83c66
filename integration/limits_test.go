package integration

import (
	"fmt"
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
			// The harness's readiness probe holds a slot until the broker reads its close, so
			// the first three connections may need a retry; once three are open and answered,
			// the fourth must be refused.
			var open []*rawConn
			for i := 0; i < 3; i++ {
				eventually(t, 5*time.Second, func() error {
					rc := dialRaw(t, b)
					if err := apiVersionsOK(rc); err != nil {
						rc.conn.Close()
						return fmt.Errorf("connection %d: %w", i, err)
					}
					open = append(open, rc)
					return nil
				})
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
				return apiVersionsOK(rc)
			})
		})
	}
}

// apiVersionsOK sends ApiVersions v3 on rc and checks that it is answered without error.
func apiVersionsOK(rc *rawConn) error {
	req := apiVersionsRequest()
	if _, err := rc.send(req, 3); err != nil {
		return err
	}
	frame, err := rc.readFrame(2 * time.Second)
	if err != nil {
		return err
	}
	_, resp, err := decodeResponse(frame, req)
	if err != nil {
		return err
	}
	if code := resp.(*kmsg.ApiVersionsResponse).ErrorCode; code != 0 {
		return fmt.Errorf("ApiVersions error %d", code)
	}
	return nil
}
