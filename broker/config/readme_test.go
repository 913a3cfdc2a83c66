package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEConfigTable keeps the README's configuration section equal to the table generated
// from the keys. Run with UPDATE_README=1 to rewrite it.
func TestREADMEConfigTable(t *testing.T) {
	const path = "../../README.md"
	const begin, end = "<!-- config-table:begin -->\n", "<!-- config-table:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading README: %v", err)
	}
	text := string(b)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("README has no %q ... %q section", begin, end)
	}
	want := MarkdownTable()
	if !strings.HasSuffix(want, "\n") {
		want += "\n"
	}
	got := text[i+len(begin) : j]
	if got == want {
		return
	}
	if os.Getenv("UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(text[:i+len(begin)]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README configuration table is out of date; run: UPDATE_README=1 go test ./broker/config -run TestREADMEConfigTable")
}
