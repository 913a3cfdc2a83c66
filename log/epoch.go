package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// epochEntry: leader epoch `epoch` began at offset `start`.
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is the leader epoch cache, persisted as Kafka's
// leader-epoch-checkpoint. Guarded by the Log's mutex.
type epochCache struct {
	entries []epochEntry // epochs and start offsets both increasing
}

// assign records that epoch starts at start. It follows Kafka: nothing when
// epoch is the latest and starts no earlier; otherwise entries that conflict
// (an epoch >= epoch or a start >= start) are dropped and the new one appended.
func (c *epochCache) assign(epoch int32, start int64) bool {
	if epoch < 0 {
		return false
	}
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if last.epoch == epoch && start >= last.start {
			return false
		}
	}
	i := len(c.entries)
	for i > 0 && (c.entries[i-1].epoch >= epoch || c.entries[i-1].start >= start) {
		i--
	}
	c.entries = append(c.entries[:i], epochEntry{epoch: epoch, start: start})
	return true
}

func (c *epochCache) latest() (epochEntry, bool) {
	if len(c.entries) == 0 {
		return epochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// truncateFromEnd drops entries starting at or after end.
func (c *epochCache) truncateFromEnd(end int64) bool {
	i := len(c.entries)
	for i > 0 && c.entries[i-1].start >= end {
		i--
	}
	changed := i != len(c.entries)
	c.entries = c.entries[:i]
	return changed
}

// truncateFromStart drops entries wholly below start; the last entry that
// begins at or below start is kept, with its start moved up to start.
func (c *epochCache) truncateFromStart(start int64) bool {
	k := 0 // entries with start <= newStart
	for k < len(c.entries) && c.entries[k].start <= start {
		k++
	}
	if k == 0 || (k == 1 && c.entries[0].start == start) {
		return false
	}
	kept := c.entries[k-1]
	kept.start = start
	rest := append([]epochEntry{kept}, c.entries[k:]...)
	c.entries = rest
	return true
}

// endOffsetFor answers OffsetForLeaderEpoch as Kafka does.
func (c *epochCache) endOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	if epoch == undefinedEpoch || len(c.entries) == 0 {
		return undefinedEpoch, undefinedEpochOffset
	}
	if last := c.entries[len(c.entries)-1]; last.epoch == epoch {
		return epoch, logEnd
	}
	// first entry with a higher epoch
	hi := -1
	for i, e := range c.entries {
		if e.epoch > epoch {
			hi = i
			break
		}
	}
	if hi < 0 {
		return undefinedEpoch, undefinedEpochOffset
	}
	if hi == 0 {
		return epoch, c.entries[0].start
	}
	return c.entries[hi-1].epoch, c.entries[hi].start
}

// truncationPoint is Kafka's rule (AbstractFetcherThread.getOffsetTruncationState) for where a
// follower with this cache, log end logEnd and high watermark hw cuts its log when its leader
// reports that leaderEpoch ends at leaderEnd (a DivergingEpoch in a fetch answer, or an
// OffsetForLeaderEpoch answer). complete is false when the follower does not know leaderEpoch:
// it then cuts to the end of its largest smaller epoch and must ask the leader again about the
// epoch it is left with.
//
//   - leaderEnd undefined (the leader knows no epoch that early or that late): the high
//     watermark, below which every in-sync replica holds the same records;
//   - leaderEpoch undefined (a leader without epochs): min(leaderEnd, logEnd);
//   - the follower knows no epoch <= leaderEpoch: min(leaderEnd, logEnd);
//   - the follower's largest epoch <= leaderEpoch is another epoch: that epoch's end, incomplete;
//   - the same epoch: the smaller of the two ends of that epoch (and logEnd).
func (c *epochCache) truncationPoint(leaderEpoch int32, leaderEnd, logEnd, hw int64) (offset int64, complete bool) {
	switch {
	case leaderEnd == undefinedEpochOffset:
		return min(hw, logEnd), true
	case leaderEpoch == undefinedEpoch:
		return min(leaderEnd, logEnd), true
	}
	ourEpoch, ourEnd := c.endOffsetFor(leaderEpoch, logEnd)
	switch {
	case ourEnd == undefinedEpochOffset:
		return min(leaderEnd, logEnd), true
	case ourEpoch != leaderEpoch:
		return min(ourEnd, logEnd), false
	default:
		return min(ourEnd, leaderEnd, logEnd), true
	}
}

// epochFor returns the epoch in force at offset.
func (c *epochCache) epochFor(offset int64) (int32, bool) {
	for i := len(c.entries) - 1; i >= 0; i-- {
		if c.entries[i].start <= offset {
			return c.entries[i].epoch, true
		}
	}
	return 0, false
}

// encode renders Kafka's checkpoint text: "0", count, "epoch start" lines.
func (c *epochCache) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(c.entries))
	for _, e := range c.entries {
		fmt.Fprintf(&b, "%d %d\n", e.epoch, e.start)
	}
	return b.Bytes()
}

func loadEpochCache(fsys FS, path string) (*epochCache, error) {
	data, err := readFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return &epochCache{}, nil
	}
	if err != nil {
		return nil, err
	}
	lines, err := parseCheckpointText(data, 2)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &epochCache{}
	for _, f := range lines {
		ep, err1 := strconv.ParseInt(f[0], 10, 32)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: malformed line %q", path, strings.Join(f, " "))
		}
		c.entries = append(c.entries, epochEntry{epoch: int32(ep), start: off})
	}
	return c, nil
}

// parseCheckpointText parses Kafka's checkpoint text format: version line
// "0", a count line, then count lines of `fields` space-separated fields.
func parseCheckpointText(data []byte, fields int) ([][]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	v, ok := next()
	if !ok || v != "0" {
		return nil, fmt.Errorf("unsupported checkpoint version %q", v)
	}
	cs, ok := next()
	count, err := strconv.Atoi(cs)
	if !ok || err != nil || count < 0 {
		return nil, fmt.Errorf("malformed checkpoint count %q", cs)
	}
	out := make([][]string, 0, count)
	for i := 0; i < count; i++ {
		line, ok := next()
		if !ok {
			return nil, fmt.Errorf("checkpoint has %d entries, expected %d", i, count)
		}
		f := strings.Split(line, " ")
		if len(f) != fields {
			return nil, fmt.Errorf("malformed checkpoint line %q", line)
		}
		out = append(out, f)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
