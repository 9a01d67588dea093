package fault_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/envoyconfig"
	"github.com/okbreak/okbreak/internal/sample/xdsbootstrap"
	"github.com/okbreak/okbreak/sample"
)

// The broken configs must be ones the data planes really refuse, and the
// fault must pick the right one per data plane (Envoy cannot run here: this
// is its only test).
func TestBadConfigBreaksEachDataPlanesOwnBootstrap(t *testing.T) {
	for _, tc := range []struct {
		dp       stack.DataPlane
		file     string
		validate func([]byte) error
	}{
		{stack.GRPC, "/etc/okbreak/xds-bootstrap.json", xdsbootstrap.Validate},
		{stack.Envoy, "/etc/envoy/bootstrap.yaml", envoyconfig.Validate},
	} {
		def := sample.Definition(tc.dp)
		edge, _ := def.Component(sample.Edge)
		require.NoError(t, tc.validate(configOf(edge, tc.file)), "%s: the stack's own bootstrap is valid", tc.dp)

		f, err := fault.Validated(fault.Spec{Type: "bad_config_at_start", Target: sample.Edge}, def)
		require.NoError(t, err)
		file, content := fault.BadConfigOf(f)
		require.Equal(t, tc.file, file, tc.dp)
		require.Error(t, tc.validate(content), "%s must refuse %q", tc.dp, content)
	}

	def := sample.Definition(stack.Envoy)
	broken, err := fixtures.Read(fault.BrokenEnvoyBootstrap)
	require.NoError(t, err)
	f, err := fault.Validated(fault.Spec{Type: "bad_config_at_start", Target: sample.Edge}, def)
	require.NoError(t, err)
	require.Equal(t, string(broken), string(second(fault.BadConfigOf(f))), "envoy gets the fixture")

	f, err = fault.Validated(fault.Spec{Type: "bad_config_at_start", Target: sample.Edge, Params: map[string]any{"content": "{}"}}, def)
	require.NoError(t, err)
	require.Equal(t, "{}", string(second(fault.BadConfigOf(f))), "content overrides")
}

func second(_ string, b []byte) []byte { return b }

func configOf(c stack.Component, path string) []byte {
	for _, f := range c.Files {
		if f.Path == path {
			return f.Content
		}
	}
	return nil
}
