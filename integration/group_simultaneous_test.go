package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupSimultaneousStaticJoins starts two and five static members of a group at the same
// instant on a broker with group.initial.rebalance.delay.ms=0: they must settle in one
// generation with no partition revoked, as on Kafka, whose purgatory completes even a
// zero-delay initial rebalance after the joins that arrive together (franz-go and librdkafka).
func TestGroupSimultaneousStaticJoins(t *testing.T) {
	const parts = 10
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	createTopic(t, adm, "simultaneous", parts, nil)
	for _, members := range []int{2, 5} {
		t.Run(fmt.Sprintf("franz-go/%d", members), func(t *testing.T) {
			staticJoinFranz(t, b, "simultaneous", parts, fmt.Sprintf("franz-%d", members), members)
		})
		t.Run(fmt.Sprintf("librdkafka/%d", members), func(t *testing.T) {
			py := venvPython(t)
			group := fmt.Sprintf("rdkafka-%d", members)
			res := cmdSpec{name: py, args: []string{pyScript(t, "static_group.py"), b.Addr(), "simultaneous",
				strconv.Itoa(parts), group, strconv.Itoa(members)}, timeout: 2 * time.Minute}.run(context.Background())
			if res.err != nil {
				t.Fatalf("static_group.py: %v\n%s\n%s", res.err, res.stdout, res.stderr)
			}
			out := res.stdout
			defer func() {
				if t.Failed() {
					t.Logf("static_group.py stderr:\n%s", res.stderr)
				}
			}()
			var sum struct {
				Revoked int                `json:"revoked"`
				Owners  map[string][]int32 `json:"owners"`
			}
			if err := json.Unmarshal([]byte(lines(out)[len(lines(out))-1]), &sum); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if sum.Revoked != 0 || len(sum.Owners) != members {
				t.Errorf("%d members: %d partitions revoked, owners %v", members, sum.Revoked, sum.Owners)
			}
		})
	}
}

// staticJoinFranz starts members franz-go consumers with instance ids at once and checks that
// they end in generation 1, having revoked nothing.
func staticJoinFranz(t *testing.T, b *Broker, topic string, parts int, group string, members int) {
	t.Helper()
	var mu sync.Mutex
	revoked, owned := 0, map[string]int{}
	clients := make([]*kgo.Client, members)
	for i := range clients {
		name := fmt.Sprintf("static-%d", i)
		clients[i] = newClient(t, b, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.InstanceID(name),
			kgo.SessionTimeout(10*time.Second),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				mu.Lock()
				owned[name] += len(m[topic])
				mu.Unlock()
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				mu.Lock()
				revoked += len(m[topic])
				owned[name] -= len(m[topic])
				mu.Unlock()
			}))
		// Connect ahead so that the joins, not the dials, start together.
		if err := clients[i].Ping(testCtx(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for ctx.Err() == nil {
				cl.PollFetches(ctx)
			}
		}()
	}
	close(start)
	eventually(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		total := 0
		for _, n := range owned {
			total += n
		}
		if total != parts || len(owned) != members {
			return fmt.Errorf("owners %v", owned)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // a later generation would revoke within this
	mu.Lock()
	r := revoked
	mu.Unlock()
	for i, cl := range clients {
		if _, gen := cl.GroupMetadata(); gen != 1 {
			t.Errorf("member static-%d is in generation %d, want 1", i, gen)
		}
	}
	if r != 0 {
		t.Errorf("%d partitions revoked among %d members started together", r, members)
	}
	cancel()
	wg.Wait()
}
