package main

import (
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	cases := []struct {
		name    string
		input   string
		want    []string
		wantErr bool
	}{
		{
			name: "flows sorted by client and version, api table by key",
			input: `{"kind":"flow","client":"kcat","version":"1.7.1","flow":"consume","pass":false,"seconds":2}
{"kind":"apiversions","pass":true,"apis":[{"key":3,"name":"Metadata","min":0,"max":12},{"key":0,"name":"Produce","min":0,"max":11}]}
{"kind":"flow","client":"Sarama","version":"v1","flow":"a|b","pass":true,"seconds":1.25}`,
			want: []string{
				"1 of 2 flows passed",
				"| Sarama | v1 | a\\|b | pass | 1.2 |\n| kcat | 1.7.1 | consume | **FAIL** | 2.0 |",
				"| 0 | Produce | 0 | 11 |\n| 3 | Metadata | 0 | 12 |",
			},
		},
		{name: "no flows is an error", input: `{"kind":"apiversions","pass":true}`, wantErr: true},
		{name: "bad json is an error", input: `{"kind":`, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			results, err := read(strings.NewReader(c.input))
			var doc string
			if err == nil {
				doc, err = render(results, now)
			}
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error %v", err, c.wantErr)
			}
			for _, w := range c.want {
				if !strings.Contains(doc, w) {
					t.Errorf("document lacks %q:\n%s", w, doc)
				}
			}
		})
	}
}
