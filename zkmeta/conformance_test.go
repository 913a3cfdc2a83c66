package zkmeta_test

import (
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"kbroker/zkmeta"
	"kbroker/zkmeta/zkmetatest"
)

// TestEmbeddedConformance runs the Store conformance suite on the embedded
// store: the first open of a test opens a store in a fresh directory, and
// every open returns a new session on it.
func TestEmbeddedConformance(t *testing.T) {
	var (
		mu     sync.Mutex
		stores = map[*testing.T]*zkmeta.Embedded{}
	)
	start := time.Now()
	defer func() { t.Logf("conformance suite against the embedded store: %v", time.Since(start)) }()
	zkmetatest.Run(t, func(t *testing.T) zkmeta.Store {
		mu.Lock()
		defer mu.Unlock()
		e, ok := stores[t]
		if !ok {
			var err error
			if e, err = zkmeta.OpenEmbedded(t.TempDir(), zerolog.Nop()); err != nil {
				t.Fatalf("open: %v", err)
			}
			stores[t] = e
			t.Cleanup(func() {
				if err := e.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
		}
		s, err := e.NewSession()
		if err != nil {
			t.Fatalf("new session: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
