package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaGroupHandler records every claimed message and marks it for commit.
type saramaGroupHandler struct {
	mu   sync.Mutex
	seen map[recKey]int
	gens []int32 // generation of every session set up
}

func (h *saramaGroupHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gens = append(h.gens, s.GenerationID())
	return nil
}

func (h *saramaGroupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaGroupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			h.mu.Lock()
			h.seen[recKey{m.Partition, m.Offset}]++
			h.mu.Unlock()
			s.MarkMessage(m, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func (h *saramaGroupHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

func TestGroupSaramaConsumerGroup(t *testing.T) {
	t.Parallel()
	const (
		topic = "sarama-group"
		parts = 4
		n     = 400
	)
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, parts, nil)
	produced := make(map[recKey]bool)
	produceKeyed(t, b, topic, "s", n, produced)

	v36 := sarama.V3_6_0_0
	for _, tc := range []struct {
		name    string
		version *sarama.KafkaVersion
	}{
		{"default-version", nil},
		{"V3_6_0_0", &v36},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			group := "sarama-" + tc.name
			cfg := saramaConfig(tc.version)
			cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
			cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
			cg, err := sarama.NewConsumerGroup([]string{b.Addr()}, group, cfg)
			if err != nil {
				t.Fatalf("sarama NewConsumerGroup %s: %v", group, err)
			}
			closed := false
			closeGroup := func() {
				if closed {
					return
				}
				closed = true
				done := make(chan error, 1)
				go func() { done <- cg.Close() }()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("sarama consumer group Close: %v", err)
					}
				case <-time.After(20 * time.Second):
					t.Errorf("sarama consumer group Close did not return within 20s")
				}
			}
			t.Cleanup(closeGroup)

			h := &saramaGroupHandler{seen: make(map[recKey]int)}
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			errs := make(chan error, 16)
			go func() {
				for e := range cg.Errors() {
					select {
					case errs <- e:
					default:
					}
				}
			}()
			loopDone := make(chan error, 1)
			go func() {
				for ctx.Err() == nil {
					if err := cg.Consume(ctx, []string{topic}, h); err != nil {
						if errors.Is(err, sarama.ErrClosedConsumerGroup) {
							break
						}
						loopDone <- err
						return
					}
				}
				loopDone <- nil
			}()

			waitUntil(t, 40*time.Second, "sarama group consumed the topic", func() error {
				select {
				case e := <-errs:
					return fmt.Errorf("sarama group error: %v", e)
				default:
				}
				if got := h.count(); got < n {
					return fmt.Errorf("%d of %d records consumed", got, n)
				}
				return nil
			})
			checkCommittedAtEnd(t, adm, group, topic, parts)
			d := describeGroup(t, adm, group)
			if d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" || len(d.Members) != 1 {
				t.Errorf("DescribeGroups %s: state %q, protocol type %q, protocol %q, %d members; want Stable, consumer, range, 1",
					group, d.State, d.ProtocolType, d.Protocol, len(d.Members))
			}
			cancel()
			closeGroup()
			select {
			case err := <-loopDone:
				if err != nil {
					t.Errorf("sarama Consume: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("sarama Consume loop did not end within 20s of Close")
			}

			h.mu.Lock()
			defer h.mu.Unlock()
			for k := range produced {
				if h.seen[k] != 1 {
					t.Errorf("record %d@%d consumed %d times, want once", k.p, k.o, h.seen[k])
				}
			}
			if len(h.seen) != len(produced) {
				t.Errorf("consumed %d distinct records, produced %d", len(h.seen), len(produced))
			}
			waitGroupState(t, adm, group, "Empty", 15*time.Second)
		})
	}
}
