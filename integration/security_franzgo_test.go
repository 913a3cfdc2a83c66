package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestSecurityFranzGoSCRAMSuite runs franz-go's own SCRAM tests (TestSCRAMAuth and
// TestSCRAMAuthBadCredentials in pkg/kgo, from the module source of the franz-go version in
// go.mod) against a SASL_PLAINTEXT listener, once per SCRAM mechanism, as franz-go's CI
// runs them against Kafka: KGO_TEST_SCRAM_SEEDS and KGO_TEST_SCRAM.
func TestSecurityFranzGoSCRAMSuite(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/twmb/franz-go").CombinedOutput()
	src := strings.TrimSpace(string(out))
	if err != nil || src == "" {
		t.Fatalf("locating franz-go's module source (run make deps): %v %s", err, out)
	}
	// The module cache is read-only: run the tests from a writable copy.
	mod := filepath.Join(t.TempDir(), "franz-go")
	if out, err := exec.Command("cp", "-r", src, mod).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v %s", src, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", mod).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}

	b := startBrokerWith(t, brokerOpts{listener: "SASL_PLAINTEXT", overrides: []string{
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol=PLAIN",
		saslPlainJAAS("SASL_PLAINTEXT"),
	}})
	ctx := testCtx(t, 5*time.Minute)
	admin := kadm.NewClient(secureClient(t, b.Addr(), nil, plainMech("admin", adminPass)))
	res, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "kgo256", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "pw-256"},
		{User: "kgo512", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "pw-512"},
	})
	if err != nil || res.Error() != nil {
		t.Fatalf("creating SCRAM users: %v %v", err, res.Error())
	}
	for _, scram := range []string{"kgo256:pw-256", "kgo512:pw-512:512"} {
		cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-run", "^TestSCRAMAuth", "./pkg/kgo")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "KGO_TEST_SCRAM_SEEDS="+b.Addr(), "KGO_TEST_SCRAM="+scram,
			"KGO_SEEDS="+b.Addr())
		out, err := cmd.CombinedOutput()
		text := string(out)
		if err != nil {
			t.Fatalf("franz-go TestSCRAMAuth with %s: %v\n%s", scram, err, tail(text, 6000))
		}
		for _, name := range []string{"TestSCRAMAuth", "TestSCRAMAuthBadCredentials"} {
			if !strings.Contains(text, "--- PASS: "+name+" ") {
				t.Errorf("%s did not pass (skipped?) with %s:\n%s", name, scram, tail(text, 3000))
			}
		}
	}
}
