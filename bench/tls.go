package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kbroker/broker/auth/authtest"
)

// The TLS step: each system runs with one SSL listener (PKCS12 key store, no client
// certificates; a fresh throwaway CA per round), kload produces 1 KiB records with acks=1
// and consumes them back over TLS, then TLS handshakes per second are counted with two
// concurrent dialers.

// tlsStore is the throwaway CA and the broker's PKCS12 stores of one round.
type tlsStore struct {
	caPEM, keyStore, trustStore string
}

const tlsStorePass = "kbench-store"

func writeTLSStore(dir string) (tlsStore, error) {
	var st tlsStore
	ca, err := authtest.NewCA("kbench-ca")
	if err != nil {
		return st, err
	}
	srv, err := ca.Issue(pkix.Name{CommonName: "kbench-broker"}, "127.0.0.1", "localhost")
	if err != nil {
		return st, err
	}
	p12, err := srv.PKCS12(tlsStorePass)
	if err != nil {
		return st, err
	}
	trust, err := ca.TrustPKCS12(tlsStorePass)
	if err != nil {
		return st, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, err
	}
	if st.caPEM, err = authtest.WriteFile(dir, "ca.pem", ca.CertPEM()); err != nil {
		return st, err
	}
	if st.keyStore, err = authtest.WriteFile(dir, "broker.p12", p12); err != nil {
		return st, err
	}
	st.trustStore, err = authtest.WriteFile(dir, "trust.p12", trust)
	return st, err
}

// tlsProperties turns the system's properties into an SSL-only broker.
func (s *system) tlsProperties(dir string, port int, st tlsStore) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s.properties(dir, port)), "\n") {
		if strings.HasPrefix(l, "listeners=") || strings.HasPrefix(l, "advertised.listeners=") {
			l = strings.Replace(l, "PLAINTEXT://", "SSL://", 1)
		}
		out = append(out, l)
	}
	out = append(out,
		"security.inter.broker.protocol=SSL",
		"ssl.keystore.type=PKCS12", "ssl.keystore.location="+st.keyStore, "ssl.keystore.password="+tlsStorePass,
		"ssl.key.password="+tlsStorePass,
		"ssl.truststore.type=PKCS12", "ssl.truststore.location="+st.trustStore, "ssl.truststore.password="+tlsStorePass,
		"ssl.client.auth=none",
	)
	return strings.Join(out, "\n") + "\n"
}

// tlsRound runs the TLS step once.
func (s *system) tlsRound(ctx context.Context, rec *recorder, round int) error {
	cfg := s.cfg
	dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("%s-tls%d", s.name, round))
	defer os.RemoveAll(dir)
	if s.name == Kafka {
		s.chroot = fmt.Sprintf("/kbench-tls%d", round)
	}
	st, err := writeTLSStore(filepath.Join(dir, "tls"))
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	srv, err := s.start(ctx, dir, port, s.tlsProperties(dir, port, st))
	if err != nil {
		return err
	}
	defer srv.stop(time.Minute)
	if err := srv.waitAccept(ctx, 3*time.Minute); err != nil {
		return err
	}
	parts := strconv.Itoa(int(cfg.Partitions))
	r, err := runKload(ctx, cfg.KloadBin, "-brokers", srv.addr, "-tls-ca", st.caPEM, "-topic", "tls_1k", "-partitions", parts,
		"-records", strconv.Itoa(cfg.TLSRecords), "-size", "1024", "-acks", "1", "-mode", "produce")
	if err != nil {
		return fmt.Errorf("%w\n%s", err, srv.logTail())
	}
	if r.Produce == nil || r.Produce.Errors > 0 {
		return fmt.Errorf("kload tls_1k: produce errors: %+v", r.Produce)
	}
	rec.add(s.name, "tls_produce_1k_acks1", r.Produce.MBPerSec)
	r, err = runKload(ctx, cfg.KloadBin, "-brokers", srv.addr, "-tls-ca", st.caPEM, "-topic", "tls_1k", "-mode", "consume")
	if err != nil {
		return err
	}
	if r.Consume == nil || r.Consume.Records != int64(cfg.TLSRecords) {
		return fmt.Errorf("kload tls consume: %+v, want %d records", r.Consume, cfg.TLSRecords)
	}
	rec.add(s.name, "tls_consume_1k", r.Consume.MBPerSec)
	hs, err := tlsHandshakes(ctx, srv.addr, st.caPEM, cfg.TLSHandshakeTime)
	if err != nil {
		return err
	}
	rec.add(s.name, "tls_handshakes", hs)
	return nil
}

// tlsHandshakes counts full TLS handshakes per second (no session resumption) completed by
// two concurrent dialers during d.
func tlsHandshakes(ctx context.Context, addr, caPEM string, d time.Duration) (float64, error) {
	pem, err := os.ReadFile(caPEM)
	if err != nil {
		return 0, err
	}
	cfg := &tls.Config{ServerName: "127.0.0.1", RootCAs: x509Pool(pem)}
	var n atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				c.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok && err != nil {
		return 0, fmt.Errorf("TLS handshake: %w", err)
	}
	return float64(n.Load()) / d.Seconds(), nil
}
