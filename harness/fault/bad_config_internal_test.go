package fault

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/envoyconfig"
	"github.com/okbreak/okbreak/internal/sample/xdsbootstrap"
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
		def := stack.Default(tc.dp, fixtures.EnvoyBootstrap())
		edge, _ := def.Component(stack.Edge)
		require.NoError(t, tc.validate(edge.Files[0].Content), "%s: the stack's own bootstrap is valid", tc.dp)

		f, err := types["bad_config_at_start"].New(Spec{Type: "bad_config_at_start", Target: stack.Edge}, def, nil)
		require.NoError(t, err)
		bc := f.(*badConfigFault)
		require.Equal(t, tc.file, bc.file, tc.dp)
		require.Error(t, tc.validate(bc.content), "%s must refuse %q", tc.dp, bc.content)
	}

	def := stack.Default(stack.Envoy, fixtures.EnvoyBootstrap())
	broken, err := fixtures.Read(BrokenEnvoyBootstrap)
	require.NoError(t, err)
	f, err := types["bad_config_at_start"].New(Spec{Type: "bad_config_at_start", Target: stack.Edge}, def, nil)
	require.NoError(t, err)
	require.Equal(t, string(broken), string(f.(*badConfigFault).content), "envoy gets the fixture")

	f, err = types["bad_config_at_start"].New(Spec{Type: "bad_config_at_start", Target: stack.Edge, Params: map[string]any{"content": "{}"}}, def, nil)
	require.NoError(t, err)
	require.Equal(t, "{}", string(f.(*badConfigFault).content), "content overrides")
}
