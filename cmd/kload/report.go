package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// Phase is the outcome of one load phase.
type Phase struct {
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Errors        int64   `json:"errors"`
	Seconds       float64 `json:"seconds"`
	MBPerSec      float64 `json:"mb_per_s"`
	RecordsPerSec float64 `json:"records_per_s"`
	P50Ms         float64 `json:"p50_ms,omitempty"`
	P99Ms         float64 `json:"p99_ms,omitempty"`
	// Transactions (-txn): the time to the producer id (before the clock starts), how
	// many committed, and the commit latency.
	InitMs       float64 `json:"init_ms,omitempty"`
	Transactions int64   `json:"transactions,omitempty"`
	CommitP50Ms  float64 `json:"commit_p50_ms,omitempty"`
	CommitP99Ms  float64 `json:"commit_p99_ms,omitempty"`
	FirstError   string  `json:"first_error,omitempty"`
}

// Report is what kload prints.
type Report struct {
	Topic       string `json:"topic"`
	Partitions  int32  `json:"partitions"`
	Size        int    `json:"size"`
	Acks        string `json:"acks"`
	Compression string `json:"compression"`
	Produce     *Phase `json:"produce,omitempty"`
	Consume     *Phase `json:"consume,omitempty"`
}

// rates fills the per-second figures from counts and elapsed.
func (p *Phase) rates(elapsed time.Duration) {
	p.Seconds = elapsed.Seconds()
	if p.Seconds > 0 {
		p.MBPerSec = float64(p.Bytes) / 1e6 / p.Seconds
		p.RecordsPerSec = float64(p.Records) / p.Seconds
	}
}

// percentile returns the q-quantile (0 < q <= 1) of sorted latencies by the
// nearest-rank method, in milliseconds; 0 for none.
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return float64(sorted[rank]) / float64(time.Millisecond)
}

// latencies sorts lat and stores its p50 and p99.
func (p *Phase) latencies(lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p.P50Ms = percentile(lat, 0.50)
	p.P99Ms = percentile(lat, 0.99)
}

// Write prints r as text or as one JSON object.
func (r Report) Write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(r)
	}
	_, err := fmt.Fprintf(w, "topic %s: %d partitions, %d-byte records, acks=%s, compression=%s\n",
		r.Topic, r.Partitions, r.Size, r.Acks, r.Compression)
	if err != nil {
		return err
	}
	if p := r.Produce; p != nil {
		_, err = fmt.Fprintf(w, "produce: %d records (%d errors) in %.2fs: %.2f MB/s, %.0f records/s, latency p50 %.2f ms, p99 %.2f ms\n",
			p.Records, p.Errors, p.Seconds, p.MBPerSec, p.RecordsPerSec, p.P50Ms, p.P99Ms)
		if err == nil && p.Transactions > 0 {
			_, err = fmt.Fprintf(w, "produce: %d transactions, commit latency p50 %.2f ms, p99 %.2f ms; producer id in %.0f ms\n",
				p.Transactions, p.CommitP50Ms, p.CommitP99Ms, p.InitMs)
		}
		if err == nil && p.FirstError != "" {
			_, err = fmt.Fprintf(w, "produce: first error: %s\n", p.FirstError)
		}
		if err != nil {
			return err
		}
	}
	if c := r.Consume; c != nil {
		_, err = fmt.Fprintf(w, "consume: %d records in %.2fs: %.2f MB/s, %.0f records/s\n",
			c.Records, c.Seconds, c.MBPerSec, c.RecordsPerSec)
	}
	return err
}
