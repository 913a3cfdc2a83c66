package integration

// The KIP-848 consumer group protocol (ConsumerGroupHeartbeat) against the broker binary,
// with real clients: franz-go's own group tests, Kafka 4's Java consumer through its
// console consumer, kafka-consumer-groups, a member killed with kill -9, and requests
// Kafka refuses. The single-broker flows share one broker with short KIP-848 sessions.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kip848Overrides make sessions short enough to watch a member expire in a test (Kafka's
// defaults are 45 s and 5 s).
var kip848Overrides = []string{
	"group.consumer.session.timeout.ms=6000",
	"group.consumer.min.session.timeout.ms=6000",
	"group.consumer.heartbeat.interval.ms=1000",
	"group.consumer.min.heartbeat.interval.ms=1000",
	"group.initial.rebalance.delay.ms=0",
	"offsets.topic.replication.factor=1",
	"offsets.topic.num.partitions=5",
}

func TestKIP848(t *testing.T) {
	b := startBroker(t, kip848Overrides...)
	t.Run("franz-go group tests", func(t *testing.T) { t.Parallel(); testFranzGoGroupTests(t, b) })
	t.Run("Kafka console consumer and kafka-consumer-groups", func(t *testing.T) { t.Parallel(); testKIP848KafkaTools(t, b) })
	t.Run("member killed with kill -9", func(t *testing.T) { t.Parallel(); testKIP848KilledMember(t, b) })
	t.Run("requests Kafka refuses", func(t *testing.T) { t.Parallel(); testKIP848BadInput(t, b) })
	t.Run("online upgrade and downgrade", func(t *testing.T) { t.Parallel(); testKIP848Migration(t, b) })
}

// --- franz-go's own tests ---

// franzGoKIP848Tests are the franz-go group tests that must run (not skip) and pass.
var franzGoKIP848Tests = []string{
	"TestGroupSimple/848",
	"TestGroupETL/range/848",
	"TestGroupETL/sticky/848",
	"TestGroupETL/sticky/848/static",
}

// testFranzGoGroupTests runs franz-go's TestGroupSimple and TestGroupETL KIP-848 variants
// (kgo's test files, from the module cache) against the broker. The kgo package is copied
// to a temporary directory with one file added, a TestMain that asks the broker's
// ApiVersions before the parallel tests read allow848, and run with -modfile so that the
// repository's go.mod and go.sum resolve its dependencies.
func testFranzGoGroupTests(t *testing.T, b *Broker) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	modDir := goOutput(t, root, "list", "-m", "-f", "{{.Dir}}", "github.com/twmb/franz-go")
	work := t.TempDir()
	franz := filepath.Join(work, "franz-go")
	if err := copyTree(modDir, franz); err != nil {
		t.Fatalf("copying franz-go from the module cache: %v", err)
	}
	main, err := os.ReadFile(testdataPath(t, "kgo", "kbroker_main_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(franz, "pkg", "kgo", "kbroker_main_test.go"), main, 0o644); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gomod = append(gomod, []byte("\nreplace github.com/twmb/franz-go => "+franz+"\n")...)
	if err := os.WriteFile(filepath.Join(work, "go.mod"), gomod, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}

	// The KIP-848 variants, plus TestGroupETL's classic "range" (go test's -run cannot tell
	// "range" from "range/848" apart without also running it).
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-modfile", filepath.Join(work, "go.mod"), "-json", "-count=1", "-timeout", "10m",
		"-run", `^(TestGroupSimple|TestGroupETL)$/^(848|range|sticky)$`, "github.com/twmb/franz-go/pkg/kgo")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KGO_SEEDS="+b.Addr(), "KGO_TEST_RF=1", "KGO_TEST_RECORDS=20000", "KGO_LOG_LEVEL=none", "GOFLAGS=")
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.Output()
	results := map[string]string{}
	var logs strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct{ Action, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		switch ev.Action {
		case "pass", "fail", "skip":
			if ev.Test != "" {
				results[ev.Test] = ev.Action
			}
		case "output":
			logs.WriteString(ev.Output)
		}
	}
	t.Logf("franz-go kgo tests took %v: %v", time.Since(start).Round(time.Second), results)
	var bad []string
	for _, name := range franzGoKIP848Tests {
		if results[name] != "pass" {
			bad = append(bad, fmt.Sprintf("%s: %q", name, results[name]))
		}
	}
	if err != nil || len(bad) > 0 {
		stderr := ""
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("franz-go group tests (%v): want pass for %s\n%s\n%s", err, strings.Join(bad, ", "), tail(logs.String(), 8000), tail(stderr, 2000))
	}
}

// goOutput runs the go command in dir and returns its trimmed stdout.
func goOutput(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// copyTree copies a directory tree (regular files and directories), writable.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// --- Kafka's tools ---

// consoleConsumer is a running kafka-console-consumer process whose output lines are
// collected as they come.
type consoleConsumer struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	recs []consoleRecord
	errs *syncBuffer
	done chan struct{}
}

// consoleRecord is one printed record: "Partition:P<TAB>value" and when it was read.
type consoleRecord struct {
	partition int32
	value     string
	at        time.Time
}

var consolePartitionLine = regexp.MustCompile(`^Partition:(\d+)\t(.*)$`)

// startConsoleConsumer runs Kafka 4's console consumer in group with the KIP-848
// protocol until the test ends (or it is killed).
func startConsoleConsumer(t *testing.T, b *Broker, topic, group string, extra ...string) *consoleConsumer {
	t.Helper()
	tool := kafkaTool(t, pinnedVersion(t, "KAFKA_4_VERSION"), "kafka-console-consumer")
	args := append([]string{"--bootstrap-server", b.Addr(), "--topic", topic, "--group", group,
		"--consumer-property", "group.protocol=consumer", "--property", "print.partition=true", "--from-beginning"}, extra...)
	cc := &consoleConsumer{cmd: exec.Command(tool, args...), errs: &syncBuffer{}, done: make(chan struct{})}
	stdout, err := cc.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cc.cmd.Stderr = cc.errs
	if err := cc.cmd.Start(); err != nil {
		t.Fatalf("kafka-console-consumer: %v", err)
	}
	go func() {
		defer close(cc.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := consolePartitionLine.FindStringSubmatch(sc.Text()); m != nil {
				var p int32
				fmt.Sscan(m[1], &p)
				cc.mu.Lock()
				cc.recs = append(cc.recs, consoleRecord{partition: p, value: m[2], at: time.Now()})
				cc.mu.Unlock()
			}
		}
		cc.cmd.Wait()
	}()
	t.Cleanup(func() {
		cc.cmd.Process.Kill()
		<-cc.done
		if t.Failed() {
			t.Logf("kafka-console-consumer stderr:\n%s", tail(cc.errs.String(), 3000))
		}
	})
	return cc
}

func (cc *consoleConsumer) records() []consoleRecord {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return append([]consoleRecord(nil), cc.recs...)
}

// testKIP848KafkaTools: Kafka 4's Java consumer (its console consumer) joins with
// group.protocol=consumer, consumes everything, and kafka-consumer-groups lists and
// describes the group and its members from ConsumerGroupDescribe.
func testKIP848KafkaTools(t *testing.T, b *Broker) {
	version := pinnedVersion(t, "KAFKA_4_VERSION")
	k := kafkaCLI{version: version, b: b}
	topic, group := "kip848-tools", "kip848-tools-group"
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 4, nil)
	produced := produceKeyedLines(t, b, topic, 400, time.Now().Add(-time.Hour))

	c1 := startConsoleConsumer(t, b, topic, group)
	c2 := startConsoleConsumer(t, b, topic, group)
	eventually(t, 90*time.Second, func() error {
		if n := len(c1.records()) + len(c2.records()); n < len(produced) {
			return fmt.Errorf("%d of %d records consumed", n, len(produced))
		}
		return nil
	})
	seen := map[string]int{}
	for _, c := range []*consoleConsumer{c1, c2} {
		for _, r := range c.records() {
			seen[r.value]++
		}
	}
	for key, rec := range produced {
		if seen[key+"\t"+string(rec.Value)]+seen[string(rec.Value)] == 0 {
			t.Fatalf("record %s was not consumed", key)
		}
	}

	// Both members are in the group with two partitions each, as kafka-consumer-groups
	// shows it (ConsumerGroupDescribe under the hood).
	var members []string
	eventually(t, 60*time.Second, func() error {
		out := k.admin(t, "kafka-consumer-groups", "--describe", "--group", group, "--members", "--verbose")
		members = nil
		for _, l := range lines(out) {
			f := strings.Fields(l)
			if len(f) >= 9 && f[0] == group {
				members = append(members, l)
				if f[4] != "2" || f[5] != f[7] {
					return fmt.Errorf("member not settled: %q", l)
				}
			}
		}
		if len(members) != 2 {
			return fmt.Errorf("%d members described:\n%s", len(members), out)
		}
		return nil
	})
	t.Logf("kafka-consumer-groups --describe --members --verbose:\n%s", strings.Join(members, "\n"))
	state := k.admin(t, "kafka-consumer-groups", "--describe", "--group", group, "--state")
	if !regexp.MustCompile(group + `\s+\S+\s+\(\d+\)\s+uniform\s+Stable\s+2`).MatchString(state) {
		t.Fatalf("--state does not show a Stable group of 2 with the uniform assignor:\n%s", state)
	}
	// Offsets and owners per partition, once the members' auto-commits (every 5 s) ran.
	eventually(t, 60*time.Second, func() error {
		out := k.admin(t, "kafka-consumer-groups", "--describe", "--group", group)
		n := 0
		for _, l := range lines(out) {
			if f := strings.Fields(l); len(f) >= 7 && f[0] == group && f[1] == topic && f[3] != "-" && f[6] != "-" {
				n++
			}
		}
		if n != 4 {
			return fmt.Errorf("%d partitions with an offset and an owner:\n%s", n, out)
		}
		return nil
	})
	if list := k.admin(t, "kafka-consumer-groups", "--list"); !containsLine(list, group) {
		t.Fatalf("--list does not show %s:\n%s", group, list)
	}

	// Kafka's own decoder reads the group's records in __consumer_offsets.
	files, _ := filepath.Glob(filepath.Join(b.LogDir(), "__consumer_offsets-*", "*.log"))
	if len(files) == 0 {
		t.Fatalf("no __consumer_offsets segments in %s", b.LogDir())
	}
	dump := k.run(t, "", "kafka-dump-log", append([]string{"--offsets-decoder", "--files"}, strings.Join(files, ","))...)
	types := map[string]bool{}
	for _, l := range lines(dump) {
		m := regexp.MustCompile(`key: \{"type":"(\d+)","data":\{"groupId":"` + group + `"`).FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if !strings.Contains(l, "payload: {") && !strings.Contains(l, "payload: <DELETE>") {
			t.Fatalf("kafka-dump-log could not decode: %s", l)
		}
		types[m[1]] = true
	}
	for _, typ := range []string{"3", "4", "5", "6", "7", "8"} {
		if !types[typ] {
			t.Fatalf("kafka-dump-log shows no record of type %s for %s (types %v)", typ, group, types)
		}
	}
}

// --- kill -9 ---

// testKIP848KilledMember: three members (two franz-go clients here, one Kafka console
// consumer process) share six partitions while records keep coming. The console consumer
// is killed with SIGKILL: it leaves nothing behind, so its partitions stay with it until
// its session times out (6 s), then move to the others, which kept consuming their own
// partitions the whole time.
func testKIP848KilledMember(t *testing.T, b *Broker) {
	topic, group := "kip848-kill", "kip848-kill-group"
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 6, nil)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(0))
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			prod.Produce(ctx, kgo.StringRecord(fmt.Sprintf("v%06d", i)), nil)
			time.Sleep(20 * time.Millisecond)
		}
	}()

	type seenAt struct {
		partition int32
		at        time.Time
	}
	var mu sync.Mutex
	var seen []seenAt
	var clients []*kgo.Client
	for i := 0; i < 2; i++ {
		cl := newClient(t, b, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ServerSideBalancer(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
		clients = append(clients, cl)
		go func() {
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				now := time.Now()
				mu.Lock()
				fs.EachRecord(func(r *kgo.Record) { seen = append(seen, seenAt{r.Partition, now}) })
				mu.Unlock()
			}
		}()
	}
	java := startConsoleConsumer(t, b, topic, group)

	// Settled: three members, two partitions each.
	var javaParts []int32
	var javaID string
	eventually(t, 90*time.Second, func() error {
		d, err := describeConsumerGroup(ctx, clients[0], group)
		if err != nil {
			return err
		}
		if d.State != "Stable" || len(d.Members) != 3 {
			return fmt.Errorf("group %s with %d members", d.State, len(d.Members))
		}
		javaID, javaParts = "", nil
		for _, m := range d.Members {
			n := 0
			for _, tp := range m.Assignment.TopicPartitions {
				n += len(tp.Partitions)
				if m.ClientID == "console-consumer" {
					javaParts = append(javaParts, tp.Partitions...)
				}
			}
			if n != 2 {
				return fmt.Errorf("member %s has %d partitions", m.MemberID, n)
			}
			if m.ClientID == "console-consumer" {
				javaID = m.MemberID
			}
		}
		if javaID == "" {
			return fmt.Errorf("the console consumer is not in the group")
		}
		if len(java.records()) == 0 {
			return fmt.Errorf("the console consumer has not consumed yet")
		}
		return nil
	})
	sort.Slice(javaParts, func(i, j int) bool { return javaParts[i] < javaParts[j] })

	killed := time.Now()
	if err := java.cmd.Process.Kill(); err != nil { // SIGKILL: no leave, no commit
		t.Fatalf("kill -9 the console consumer: %v", err)
	}
	var moved time.Time
	eventually(t, 60*time.Second, func() error {
		d, err := describeConsumerGroup(ctx, clients[0], group)
		if err != nil {
			return err
		}
		owned := 0
		for _, m := range d.Members {
			if m.MemberID == javaID {
				return fmt.Errorf("the killed member is still in the group")
			}
			for _, tp := range m.Assignment.TopicPartitions {
				owned += len(tp.Partitions)
			}
		}
		if len(d.Members) != 2 || owned != 6 {
			return fmt.Errorf("%d members own %d partitions", len(d.Members), owned)
		}
		moved = time.Now()
		return nil
	})
	// Let the survivors read the moved partitions for a moment.
	eventually(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range javaParts {
			ok := false
			for _, s := range seen {
				ok = ok || s.partition == p && s.at.After(moved)
			}
			if !ok {
				return fmt.Errorf("partition %d of the killed member not consumed by the others yet", p)
			}
		}
		return nil
	})
	took := moved.Sub(killed)
	t.Logf("partitions %v of the killed member moved after %v (session timeout 6 s)", javaParts, took.Round(100*time.Millisecond))
	if took < 4*time.Second {
		t.Fatalf("the killed member's partitions moved after %v: sooner than its session timeout", took)
	}
	// The survivors never stopped: records of their own partitions kept arriving between
	// the kill and the reassignment. A protocol that stopped them would leave a gap as long
	// as that window (over 4 s); a loaded machine makes gaps of a second or so.
	mu.Lock()
	defer mu.Unlock()
	var times []time.Time
	for _, s := range seen {
		if !contains32(javaParts, s.partition) && s.at.After(killed.Add(-time.Second)) && s.at.Before(moved) {
			times = append(times, s.at)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	gap, last := time.Duration(0), killed
	for _, at := range times {
		if at.After(killed) {
			gap = max(gap, at.Sub(last))
		}
		if at.After(last) {
			last = at
		}
	}
	gap = max(gap, moved.Sub(last))
	t.Logf("longest time without a record of the survivors' partitions between the kill and the reassignment: %v", gap.Round(time.Millisecond))
	if gap > took/2 {
		t.Fatalf("the survivors' partitions went %v without a record in the %v between the kill and the reassignment", gap, took)
	}
}

func contains32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// describeConsumerGroup asks ConsumerGroupDescribe for one group.
func describeConsumerGroup(ctx context.Context, cl *kgo.Client, group string) (kmsg.ConsumerGroupDescribeResponseGroup, error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return kmsg.ConsumerGroupDescribeResponseGroup{}, err
	}
	if len(resp.Groups) != 1 {
		return kmsg.ConsumerGroupDescribeResponseGroup{}, fmt.Errorf("%d groups described", len(resp.Groups))
	}
	g := resp.Groups[0]
	return g, kerr.ErrorForCode(g.ErrorCode)
}

// --- bad input ---

// testKIP848BadInput sends ConsumerGroupHeartbeat requests Kafka refuses and checks the
// error codes (and messages) are Kafka's.
func testKIP848BadInput(t *testing.T, b *Broker) {
	topic, group := "kip848-bad", "kip848-bad-group"
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 2, nil)
	cl := newClient(t, b)
	ctx := testCtx(t, time.Minute)
	hb := func(member string, epoch int32, set func(r *kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.MemberEpoch = group, member, epoch
		if epoch == 0 {
			req.RebalanceTimeoutMillis = 30000
			req.SubscribedTopicNames = []string{topic}
			req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		}
		if set != nil {
			set(req)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("ConsumerGroupHeartbeat: %v", err)
		}
		return resp
	}
	want := func(what string, resp *kmsg.ConsumerGroupHeartbeatResponse, code *kerr.Error, msg string) {
		t.Helper()
		got := kerr.ErrorForCode(resp.ErrorCode)
		if resp.ErrorCode != code.Code || msg != "" && (resp.ErrorMessage == nil || *resp.ErrorMessage != msg) {
			t.Fatalf("%s: %v %v, want %v %q", what, got, deref(resp.ErrorMessage), code, msg)
		}
	}

	joined := hb("member-a", 0, nil)
	if joined.ErrorCode != 0 || joined.MemberEpoch != 1 || joined.Assignment == nil || len(joined.Assignment.Topics) != 1 {
		t.Fatalf("join: %+v", joined)
	}
	want("an epoch ahead of the member's", hb("member-a", 7, nil), kerr.FencedMemberEpoch,
		"The consumer group member has a greater member epoch (7) than the one known by the group coordinator (1). The member must abandon all its partitions and rejoin.")
	want("an unknown member", hb("member-nobody", 1, nil), kerr.UnknownMemberID, "")
	want("an invalid regular expression", hb("member-b", 0, func(r *kmsg.ConsumerGroupHeartbeatRequest) {
		re := "kip848-(bad"
		r.SubscribedTopicNames, r.SubscribedTopicRegex = nil, &re
	}), kerr.InvalidRegularExpression, "")
	want("a join without a rebalance timeout", hb("member-c", 0, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RebalanceTimeoutMillis = -1 }),
		kerr.InvalidRequest, "RebalanceTimeoutMs must be provided in first request.")
	want("a join owning partitions", hb("member-c", 0, func(r *kmsg.ConsumerGroupHeartbeatRequest) {
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{Partitions: []int32{0}}}
	}), kerr.InvalidRequest, "TopicPartitions must be empty when (re-)joining.")
	want("an unknown assignor", hb("member-c", 0, func(r *kmsg.ConsumerGroupHeartbeatRequest) { s := "sticky"; r.ServerAssignor = &s }),
		kerr.UnsupportedAssignor, "ServerAssignor sticky is not supported. Supported assignors: uniform, range.")
	want("an empty member id (v1)", hb("", 0, nil), kerr.InvalidRequest, "MemberId can't be empty.")
	want("epoch -3", hb("member-a", -3, nil), kerr.InvalidRequest, "MemberEpoch is invalid.")
	want("a heartbeat to a group that does not exist", hb("member-a", 1, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "kip848-nowhere" }),
		kerr.GroupIDNotFound, "")

	// An OffsetCommit with a stale member epoch, and a describe of an unknown group.
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = group, "member-a", 0
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = topic
	cp := kmsg.NewOffsetCommitRequestTopicPartition()
	cp.Offset = 1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	cresp, err := commit.RequestWith(ctx, cl)
	if err != nil || cresp.Topics[0].Partitions[0].ErrorCode != kerr.StaleMemberEpoch.Code {
		t.Fatalf("commit with a stale epoch: %v %+v", err, cresp)
	}
	if _, err := describeConsumerGroup(ctx, cl, "kip848-nowhere"); err != kerr.GroupIDNotFound {
		t.Fatalf("describing an unknown group: %v, want GROUP_ID_NOT_FOUND", err)
	}
	// Leaving works, and a second leave is UNKNOWN_MEMBER_ID.
	if r := hb("member-a", -1, nil); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	want("a second leave", hb("member-a", -1, nil), kerr.UnknownMemberID, "")
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// --- migration ---

// testKIP848Migration: two franz-go members of a classic group consume while records keep
// coming; a KIP-848 member joins and the group becomes a consumer group (online upgrade:
// the classic members stay, ListGroups says "consumer"); when it leaves, the group is a
// classic group again (downgrade). Nothing produced is left unread.
func testKIP848Migration(t *testing.T, b *Broker) {
	topic, group := "kip848-migrate", "kip848-migrate-group"
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 6, nil)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var produced sync.Map
	prodCtx, stopProducing := context.WithCancel(ctx)
	producing := make(chan struct{})
	go func() {
		defer close(producing)
		for i := 0; prodCtx.Err() == nil; i++ {
			v := fmt.Sprintf("m%06d", i)
			prod.Produce(prodCtx, kgo.StringRecord(v), func(_ *kgo.Record, err error) {
				if err == nil {
					produced.Store(v, true)
				}
			})
			time.Sleep(10 * time.Millisecond)
		}
		prod.Flush(ctx)
	}()
	var mu sync.Mutex
	seen := map[string]bool{}
	consume := func(cl *kgo.Client) {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
			mu.Unlock()
		}
	}
	listed := func() (kmsg.ListGroupsResponseGroup, error) {
		req := kmsg.NewPtrListGroupsRequest()
		resp, err := req.RequestWith(ctx, newClient(t, b))
		if err != nil {
			return kmsg.ListGroupsResponseGroup{}, err
		}
		for _, g := range resp.Groups {
			if g.Group == group {
				return g, nil
			}
		}
		return kmsg.ListGroupsResponseGroup{}, fmt.Errorf("%s not listed", group)
	}
	for i := 0; i < 2; i++ {
		cl := newClient(t, b, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.FetchMaxWait(200*time.Millisecond))
		go consume(cl)
	}
	waitClassicStable := func() {
		t.Helper()
		eventually(t, 90*time.Second, func() error {
			g, err := listed()
			if err != nil {
				return err
			}
			if g.GroupType != "classic" || g.GroupState != "Stable" {
				return fmt.Errorf("group %s %s", g.GroupType, g.GroupState)
			}
			return nil
		})
	}
	waitClassicStable()

	modern := newClient(t, b, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ServerSideBalancer(), kgo.FetchMaxWait(200*time.Millisecond))
	go consume(modern)
	eventually(t, 90*time.Second, func() error {
		g, err := listed()
		if err != nil {
			return err
		}
		d, err := describeConsumerGroup(ctx, modern, group)
		if err != nil {
			return err
		}
		types := map[int8]int{}
		for _, m := range d.Members {
			types[m.MemberType]++
			if len(m.Assignment.TopicPartitions) == 0 {
				return fmt.Errorf("member %s (type %d) has no partitions", m.MemberID, m.MemberType)
			}
		}
		if g.GroupType != "consumer" || d.State != "Stable" || types[0] != 2 || types[1] != 1 {
			return fmt.Errorf("group type %s state %s member types %v", g.GroupType, d.State, types)
		}
		return nil
	})
	t.Log("upgraded: two classic members and one KIP-848 member, each with partitions")

	modern.Close() // leaves with epoch -1: the remaining members all speak the classic protocol
	waitClassicStable()
	t.Log("downgraded: a Stable classic group again")

	// Nothing produced is left unread.
	stopProducing()
	<-producing
	eventually(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		missing, total := 0, 0
		produced.Range(func(k, _ any) bool {
			total++
			if !seen[k.(string)] {
				missing++
			}
			return true
		})
		if missing > 0 || total == 0 {
			return fmt.Errorf("%d of %d produced records not consumed", missing, total)
		}
		return nil
	})
}
