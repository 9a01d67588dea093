package harness_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGenericPackagesKnowNothingOfTheSample keeps the sample system out of
// the generic path: the runner, the stack, the probe and the faults must
// work for a team's own system, so none of them may depend on the sample's
// registry or service (package sample holds what is the sample's).
func TestGenericPackagesKnowNothingOfTheSample(t *testing.T) {
	const mod = "github.com/okbreak/okbreak/"
	pkgs := []string{mod + "harness", mod + "harness/stack", mod + "harness/probe", mod + "harness/fault",
		mod + "harness/incident", mod + "harness/incidentrun", mod + "harness/ruletest"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < len(pkgs) {
		t.Fatalf("go list -deps listed %d packages, want at least %d: %s", len(deps), len(pkgs), out)
	}
	for _, d := range deps {
		for _, banned := range []string{mod + "internal/registry", mod + "internal/sample", mod + "sample"} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("%s is among the dependencies of %s", d, strings.Join(pkgs, ", "))
			}
		}
	}
}

// TestImportingChangesNothingGlobal imports every library package into a
// program of another module (testdata/shop), started without
// testcontainers-go's settings, which must find them still unset: an init
// that set them would change every other testcontainers test of a team's
// module.
func TestImportingChangesNothingGlobal(t *testing.T) {
	cmd := exec.Command("go", "run", "./cmd/importall")
	cmd.Dir = "../testdata/shop"
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TESTCONTAINERS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./cmd/importall in testdata/shop: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("importing okbreak set:\n%s", s)
	}
}
