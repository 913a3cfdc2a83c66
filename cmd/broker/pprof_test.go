package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestStartPprof(t *testing.T) {
	cases := []struct {
		addr    string
		wantErr string
	}{
		{"127.0.0.1:0", ""},
		{"localhost:0", ""},
		{"0.0.0.0:0", "loopback"},
		{"10.1.2.3:6060", "loopback"},
		{"nonsense", "BROKER_PPROF"},
	}
	for _, tc := range cases {
		_, stop, err := startPprof(tc.addr, zerolog.Nop())
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one mentioning %q", tc.addr, err, tc.wantErr)
			}
			if stop != nil {
				stop()
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.addr, err)
			continue
		}
		stop()
	}
}

func TestPprofServes(t *testing.T) {
	addr, stop, err := startPprof("127.0.0.1:0", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine") {
		t.Errorf("index: %d %q", resp.StatusCode, body)
	}
}
