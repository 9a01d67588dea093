package catalog_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// stackNames is a FaultChecker over a real stack definition's names, so that
// the fixture's targets are checked against the stack that runs them, not a
// hand-written list. Parameters are the fault package's to check.
type stackNames struct {
	links, components, registry []string
}

var faultKinds = map[string]string{
	"latency": "network", "bandwidth": "network", "slow_close": "network", "timeout": "network",
	"reset_peer": "network", "slicer": "network", "limit_data": "network", "down": "network",
	"stop": "process", "pause": "process", "restart": "process", "terminate": "process",
	"crash": "process", "crash_loop": "process", "bad_config_at_start": "process",
	"empty_endpoints": "config", "route_to_other": "config", "rejected_resource": "config",
}

func newStackNames(d stack.Definition) stackNames {
	// The sample's registry names its services and one route.
	reg := []string{sample.BackendService, sample.OtherService}
	if !slices.Contains(reg, sample.BackendRoute) {
		reg = append(reg, sample.BackendRoute)
	}
	sort.Strings(reg)
	return stackNames{links: d.LinkNames(), components: d.ComponentNames(), registry: reg}
}

func (s stackNames) Types() []string {
	var out []string
	for t := range faultKinds {
		out = append(out, t)
	}
	return out
}

func (s stackNames) Targets(typ string) []string {
	switch faultKinds[typ] {
	case "network":
		return s.links
	case "process":
		return s.components
	case "config":
		return s.registry
	}
	return nil
}

func (s stackNames) Check(typ, target string, _ map[string]any) error {
	if !slices.Contains(s.Targets(typ), target) {
		return fmt.Errorf("no %s target %s", typ, target)
	}
	return nil
}

func TestFixtureTargetsExistInTheDefaultStack(t *testing.T) {
	for _, dp := range []stack.DataPlane{stack.GRPC, stack.Envoy} {
		t.Run(string(dp), func(t *testing.T) {
			names := newStackNames(sample.Definition(dp))
			c, err := catalog.Load(filepath.Join("..", "..", "fixtures", "catalog.yaml"), catalog.Checks{Faults: names})
			require.NoError(t, err)
			all, _ := c.Case("all-backends-slow")
			assert.Equal(t, []string{"edge->backend-1", "edge->backend-2", "edge->backend-3"}, all.Faults[0].Targets)
		})
	}
}
