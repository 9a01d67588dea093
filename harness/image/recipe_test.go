package image

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrometheusAndAlertmanagerRecipes(t *testing.T) {
	assert.Equal(t, "FROM scratch\nCOPY prometheus /prometheus\nENTRYPOINT [\"/prometheus\"]\n"+
		"CMD [\"--config.file=/etc/prometheus/prometheus.yml\",\"--storage.tsdb.path=/data\"]\n",
		recipes[Prometheus].dockerfile())
	assert.Equal(t, []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -X github.com/prometheus/common/version.Version=3.16.0"},
		recipes[Prometheus].buildFlags("v0.316.0"), "the module version is v0.316.0, the release 3.16.0")
	assert.Equal(t, []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -X github.com/prometheus/common/version.Version=0.31.1"},
		recipes[Alertmanager].buildFlags("v0.31.1"))

	// All build; BuildAll warms none of them.
	for _, n := range []Name{Prometheus, Alertmanager, ContainerExporter} {
		assert.Contains(t, Names(), n)
		assert.NotContains(t, Buildable(), n)
	}
	assert.Equal(t, "OKBREAK_PROMETHEUS_IMAGE", EnvVar(Prometheus))
	assert.Equal(t, "OKBREAK_CONTAINER_EXPORTER_IMAGE", EnvVar(ContainerExporter))
	assert.Equal(t, "FROM scratch\nCOPY container-exporter /container-exporter\nENTRYPOINT [\"/container-exporter\"]\n", recipes[ContainerExporter].dockerfile())
	assert.True(t, slices.Equal([]Name{Etcd, Toxiproxy, ControlPlane, SampleService}, Buildable()), "the stacks' images, unchanged")
}

// Each binary sits at /<binary>: data folders by that name would be the
// binary itself.
func TestDataFoldersAreNotTheBinary(t *testing.T) {
	for _, n := range []Name{Prometheus, Alertmanager} {
		rc := recipes[n]
		for _, arg := range rc.cmd {
			assert.NotContains(t, arg, "=/"+rc.binary, "%s: %s", n, arg)
		}
	}
}

func TestPrometheusRelease(t *testing.T) {
	for in, want := range map[string]string{
		"v0.316.0":         "3.16.0",
		"v0.300.1":         "3.0.1",
		"v0.316.1-rc.0":    "3.16.1-rc.0",
		"v0.55.1":          "0.55.1",
		"v1.2.3":           "1.2.3",
		"not-a-version":    "not-a-version",
		"v0.3xx.0":         "0.3xx.0",
		"v0.1000.2":        "10.0.2",
		"v0.316.0+dirty.x": "3.16.0+dirty.x",
	} {
		assert.Equal(t, want, prometheusRelease(in), in)
	}
}

// Prometheus follows go.mod, as the embedded rule engine does; Alertmanager
// keeps its pin whatever go.mod says.
func TestPrometheusFollowsGoModAlertmanagerIsPinned(t *testing.T) {
	repo, err := findRepoRoot()
	require.NoError(t, err)
	gomod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	require.NoError(t, err)
	r := newTestResolver(t, newFakeEngine(), WithRepoRoot(repo))

	want, ok := moduleVersion(gomod, recipes[Prometheus].module)
	require.True(t, ok)
	got, err := r.externalVersion(recipes[Prometheus])
	require.NoError(t, err)
	assert.Equal(t, want, got)

	got, err = r.externalVersion(recipes[Alertmanager])
	require.NoError(t, err)
	assert.Equal(t, "v0.31.1", got)

	// Without any checkout, the pin still answers.
	r2 := newTestResolver(t, newFakeEngine(), WithRepoRoot(t.TempDir()))
	got, err = r2.externalVersion(recipes[Alertmanager])
	require.NoError(t, err)
	assert.Equal(t, "v0.31.1", got)
}

// The cache key follows the pin: another Alertmanager version is another
// image.
func TestPinnedVersionIsInTheKey(t *testing.T) {
	in := keyInputs{tc: toolchain{version: "go1.26.8"}, arch: "amd64"}
	rc := recipes[Alertmanager]
	k := externalKey(rc, "v0.31.1", in)
	assert.NotEqual(t, k, externalKey(rc, "v0.31.0", in))
	assert.NotEqual(t, k, externalKey(recipes[Prometheus], "v0.31.1", in))
}
