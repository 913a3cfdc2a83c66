package bench

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// createTopic creates a topic (an existing one is fine) and waits until its metadata lists
// every partition with a leader.
func createTopic(ctx context.Context, addr, topic string, partitions int32) error {
	return createTopicRF(ctx, addr, topic, partitions, 1)
}

// createTopicRF is createTopic with a replication factor; addrs are comma-separated seed
// brokers. It also waits until every replica is in sync.
func createTopicRF(ctx context.Context, addrs, topic string, partitions int32, rf int16) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(addrs, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(120_000)
	if _, err := adm.CreateTopic(ctx, partitions, rf, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", topic, err)
	}
	for {
		tds, err := adm.ListTopics(ctx, topic)
		if err == nil {
			td := tds[topic]
			ready := td.Err == nil && len(td.Partitions) == int(partitions)
			for _, p := range td.Partitions {
				ready = ready && p.Leader >= 0 && p.Err == nil && len(p.ISR) == int(rf)
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s not ready: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// firstProduce retries until one record is acknowledged (acks=all) on topic, creating the
// topic when missing; it is the "first successful produce" of the start-up figures.
func firstProduce(ctx context.Context, addr, topic string, partitions int32) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		err := func() error {
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			if err := createTopic(cctx, addr, topic, partitions); err != nil {
				return err
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
				kgo.RecordRetries(0), kgo.ProduceRequestTimeout(5*time.Second))
			if err != nil {
				return err
			}
			defer cl.Close()
			return cl.ProduceSync(cctx, &kgo.Record{Value: []byte("hello")}).FirstErr()
		}()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no successful produce: %v (%w)", err, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// metadataLatency is the median time of n Metadata requests for every topic.
func metadataLatency(ctx context.Context, addr string, n int) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var lat []time.Duration
	for i := 0; i < n+1; i++ {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = nil // all topics
		start := time.Now()
		if _, err := req.RequestWith(ctx, cl); err != nil {
			return 0, err
		}
		if i > 0 { // the first one also dials
			lat = append(lat, time.Since(start))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], nil
}

// produceToAll sends one 100-byte record to every partition of topic (acks=1) and returns
// the time until all are acknowledged.
func produceToAll(ctx context.Context, addr, topic string, partitions int32) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.ProduceRequestTimeout(60*time.Second))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm"), Partition: 0}).FirstErr(); err != nil {
		return 0, err
	}
	value := make([]byte, 100)
	recs := make([]*kgo.Record, partitions)
	for p := range recs {
		recs[p] = &kgo.Record{Value: value, Partition: int32(p)}
	}
	start := time.Now()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// openIdleConns opens n connections that each complete one ApiVersions exchange and then
// stay idle; close them with the returned function.
func openIdleConns(ctx context.Context, addr string, n int) (func(), error) {
	conns := make([]net.Conn, 0, n)
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	req := apiVersionsFrame()
	resp := make([]byte, 4)
	var d net.Dialer
	for i := 0; i < n; i++ {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(req); err != nil {
			closeAll()
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			closeAll()
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(resp))); err != nil {
			closeAll()
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		c.SetDeadline(time.Time{})
	}
	return closeAll, nil
}

// apiVersionsFrame is a framed ApiVersions v0 request (header v1, client id "kbench").
func apiVersionsFrame() []byte {
	body := []byte{0, 18, 0, 0, 0, 0, 0, 1, 0, 6}
	body = append(body, "kbench"...)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	return append(frame, body...)
}

// x509Pool is a pool of the PEM certificates.
func x509Pool(pem []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	return p
}
