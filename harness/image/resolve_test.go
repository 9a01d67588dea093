package image

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvVar(t *testing.T) {
	assert.Equal(t, "OKBREAK_SAMPLE_SERVICE_IMAGE", EnvVar(SampleService))
	assert.Equal(t, "OKBREAK_CONTROL_PLANE_IMAGE", EnvVar(ControlPlane))
	assert.Equal(t, "OKBREAK_ENVOY_IMAGE", EnvVar(Envoy))
	assert.Equal(t, "OKBREAK_ETCD_IMAGE", EnvVar(Etcd))
	assert.Equal(t, "OKBREAK_TOXIPROXY_IMAGE", EnvVar(Toxiproxy))
}

func TestConfiguredImagePresentLocallyWins(t *testing.T) {
	eng := newFakeEngine()
	eng.images["my/svc:1"] = ImageInfo{ID: "sha256:mine"}
	eng.images["stack/svc:2"] = ImageInfo{ID: "sha256:stack"}
	r := newTestResolver(t, eng,
		WithRepoRoot(writeFixture(t, fixtureFiles)),
		WithImage(SampleService, "stack/svc:2"),
		WithLookupEnv(envMap(map[string]string{"OKBREAK_SAMPLE_SERVICE_IMAGE": "my/svc:1"})))

	img, err := r.Resolve(t.Context(), SampleService)
	require.NoError(t, err)
	assert.Equal(t, Image{Ref: "my/svc:1", ID: "sha256:mine", Source: SourceLocal}, img, "the env var wins over the stack file")
	pulls, builds := eng.counts()
	assert.Empty(t, pulls)
	assert.Zero(t, builds)

	// Without the env var, the stack file's image is the configured one.
	r2 := newTestResolver(t, eng, WithImage(SampleService, "stack/svc:2"))
	img, err = r2.Resolve(t.Context(), SampleService)
	require.NoError(t, err)
	assert.Equal(t, "stack/svc:2", img.Ref)
	assert.Equal(t, SourceLocal, img.Source)
}

func TestConfiguredImageIsPulledWhenAbsent(t *testing.T) {
	eng := newFakeEngine()
	eng.pullable["registry.example/etcd:v3"] = true
	r := newTestResolver(t, eng, WithLookupEnv(envMap(map[string]string{"OKBREAK_ETCD_IMAGE": "registry.example/etcd:v3"})))
	img, err := r.Resolve(t.Context(), Etcd)
	require.NoError(t, err)
	assert.Equal(t, "registry.example/etcd:v3", img.Ref)
	assert.Equal(t, SourcePulled, img.Source)
	assert.Empty(t, img.Key)
	pulls, builds := eng.counts()
	assert.Equal(t, []string{"registry.example/etcd:v3"}, pulls)
	assert.Zero(t, builds)

	// Now it is local: no second pull.
	img, err = r.Resolve(t.Context(), Etcd)
	require.NoError(t, err)
	assert.Equal(t, SourceLocal, img.Source)
	pulls, _ = eng.counts()
	assert.Len(t, pulls, 1)
}

func TestBuildsFromSourceThenReusesTheCache(t *testing.T) {
	root := writeFixture(t, fixtureFiles)
	eng := newFakeEngine()
	r := newTestResolver(t, eng, WithRepoRoot(root))

	img, err := r.Resolve(t.Context(), SampleService)
	require.NoError(t, err)
	assert.Equal(t, SourceBuilt, img.Source)
	assert.Equal(t, "okbreak/sample-service:"+img.Key[:12], img.Ref)
	assert.Empty(t, img.Note)
	pulls, builds := eng.counts()
	assert.Empty(t, pulls, "our own tags are never pulled")
	require.Equal(t, 1, builds)
	req := eng.builds[0]
	assert.Equal(t, map[string]string{LabelManaged: "true", LabelKey: img.Key, LabelName: "sample-service"}, req.Labels)
	assert.Equal(t, "FROM scratch\nCOPY sample-service /sample-service\nENTRYPOINT [\"/sample-service\"]\n", eng.dockerfile[img.Ref])

	again, err := r.Resolve(t.Context(), SampleService)
	require.NoError(t, err)
	assert.Equal(t, Image{Ref: img.Ref, ID: img.ID, Source: SourceLocal, Key: img.Key}, again)
	_, builds = eng.counts()
	assert.Equal(t, 1, builds, "same code: no rebuild")

	// Changed code gets a new tag and a new build, never the stale image.
	writeFile(t, root, "internal/b/b.go", "package b\n\nfunc Hello(s string) { println(s, \"!\") }\n")
	changed, err := r.Resolve(t.Context(), SampleService)
	require.NoError(t, err)
	assert.Equal(t, SourceBuilt, changed.Source)
	assert.NotEqual(t, img.Ref, changed.Ref)
	_, builds = eng.counts()
	assert.Equal(t, 2, builds)
	pulls, _ = eng.counts()
	assert.Empty(t, pulls)
}

func TestTagWithAnotherKeyIsRebuilt(t *testing.T) {
	root := writeFixture(t, fixtureFiles)
	eng := newFakeEngine()
	r := newTestResolver(t, eng, WithRepoRoot(root))
	key, ref, err := r.Key(t.Context(), SampleService)
	require.NoError(t, err)
	eng.images[ref] = ImageInfo{ID: "sha256:other", Labels: map[string]string{LabelKey: key[:12] + strings.Repeat("0", 52)}}
	img, err := r.Resolve(t.Context(), SampleService)
	require.NoError(t, err)
	assert.Equal(t, SourceBuilt, img.Source)
	assert.Equal(t, key, eng.images[ref].Labels[LabelKey])
}

func TestUnavailableConfiguredImageFallsBackToABuild(t *testing.T) {
	root := writeFixture(t, fixtureFiles)
	eng := newFakeEngine()
	r := newTestResolver(t, eng, WithRepoRoot(root),
		WithLookupEnv(envMap(map[string]string{"OKBREAK_SAMPLE_SERVICE_IMAGE": "gone/svc:1"})))
	img, err := r.Resolve(t.Context(), SampleService)
	require.NoError(t, err)
	assert.Equal(t, SourceBuilt, img.Source)
	assert.True(t, strings.HasPrefix(img.Ref, "okbreak/sample-service:"), img.Ref)
	assert.Contains(t, img.Note, "gone/svc:1")
	assert.Contains(t, img.Note, "OKBREAK_SAMPLE_SERVICE_IMAGE")
	pulls, builds := eng.counts()
	assert.Equal(t, []string{"gone/svc:1"}, pulls, "only the configured image is pulled")
	assert.Equal(t, 1, builds)
}

func TestEnvoyUnavailableNamesTheFix(t *testing.T) {
	eng := newFakeEngine()
	r := newTestResolver(t, eng)
	_, err := r.Resolve(t.Context(), Envoy)
	require.Error(t, err)
	t.Log(err)
	assert.True(t, errors.Is(err, ErrUnavailable), "%v", err)
	assert.Contains(t, err.Error(), "set OKBREAK_ENVOY_IMAGE to a local Envoy image, or use --data-plane grpc")
	assert.Contains(t, err.Error(), DefaultEnvoyImage)
	pulls, builds := eng.counts()
	assert.Equal(t, []string{DefaultEnvoyImage}, pulls)
	assert.Zero(t, builds, "envoy has no source build")

	ok, err := r.Available(t.Context(), Envoy)
	require.NoError(t, err)
	assert.False(t, ok)

	// A configured Envoy image that cannot be had: same fix, naming it.
	r2 := newTestResolver(t, eng, WithLookupEnv(envMap(map[string]string{"OKBREAK_ENVOY_IMAGE": "mirror/envoy:x"})))
	_, err = r2.Resolve(t.Context(), Envoy)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "mirror/envoy:x")
	assert.Contains(t, err.Error(), "set OKBREAK_ENVOY_IMAGE to a local Envoy image, or use --data-plane grpc")
}

func TestEnvoyAvailableLocallyOrPulled(t *testing.T) {
	eng := newFakeEngine()
	eng.pullable[DefaultEnvoyImage] = true
	r := newTestResolver(t, eng)
	ok, err := r.Available(t.Context(), Envoy)
	require.NoError(t, err)
	assert.True(t, ok)
	img, err := r.Resolve(t.Context(), Envoy)
	require.NoError(t, err)
	assert.Equal(t, DefaultEnvoyImage, img.Ref)
	assert.Equal(t, SourceLocal, img.Source, "Available left the pulled image local")

	eng2 := newFakeEngine()
	eng2.images["corp/envoy:1.40"] = ImageInfo{ID: "sha256:e"}
	r2 := newTestResolver(t, eng2, WithLookupEnv(envMap(map[string]string{"OKBREAK_ENVOY_IMAGE": "corp/envoy:1.40"})))
	ok, err = r2.Available(t.Context(), Envoy)
	require.NoError(t, err)
	assert.True(t, ok)
	pulls, _ := eng2.counts()
	assert.Empty(t, pulls)
}

func TestEngineFailureIsNotUnavailability(t *testing.T) {
	eng := newFakeEngine()
	eng.inspectErr = errors.New("Cannot connect to the Docker daemon")
	r := newTestResolver(t, eng, WithRepoRoot(writeFixture(t, fixtureFiles)),
		WithLookupEnv(envMap(map[string]string{"OKBREAK_SAMPLE_SERVICE_IMAGE": "my/svc:1"})))
	_, err := r.Resolve(t.Context(), SampleService)
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrUnavailable))
	assert.Contains(t, err.Error(), "Cannot connect")
	pulls, builds := eng.counts()
	assert.Empty(t, pulls)
	assert.Zero(t, builds, "an engine failure must not trigger a fallback build")

	_, err = r.Available(t.Context(), Envoy)
	require.Error(t, err)
}

func TestUnknownNameNeedsAConfiguredImage(t *testing.T) {
	eng := newFakeEngine()
	r := newTestResolver(t, eng)
	_, err := r.Resolve(t.Context(), Name("grafana"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OKBREAK_GRAFANA_IMAGE")

	eng.images["grafana/grafana:12"] = ImageInfo{ID: "sha256:p"}
	r2 := newTestResolver(t, eng, WithImage("grafana", "grafana/grafana:12"))
	img, err := r2.Resolve(t.Context(), "grafana")
	require.NoError(t, err)
	assert.Equal(t, SourceLocal, img.Source)
}

func TestRepoImagesNeedTheOkbreakCheckout(t *testing.T) {
	files := map[string]string{}
	for k, v := range fixtureFiles {
		files[k] = v
	}
	files["go.mod"] = "module example.com/someone-else\n\ngo 1.24\n"
	r := newTestResolver(t, newFakeEngine(), WithRepoRoot(writeFixture(t, files)))
	_, err := r.Resolve(t.Context(), ControlPlane)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "example.com/someone-else")
	assert.Contains(t, err.Error(), "OKBREAK_CONTROL_PLANE_IMAGE")
}

func TestConcurrentResolvesBuildOnce(t *testing.T) {
	eng := newFakeEngine()
	r := newTestResolver(t, eng, WithRepoRoot(writeFixture(t, fixtureFiles)))
	var wg sync.WaitGroup
	imgs := make([]Image, 4)
	errs := make([]error, 4)
	for i := range imgs {
		wg.Go(func() { imgs[i], errs[i] = r.Resolve(t.Context(), SampleService) })
	}
	wg.Wait()
	built := 0
	for i := range imgs {
		require.NoError(t, errs[i])
		assert.Equal(t, imgs[0].Ref, imgs[i].Ref)
		if imgs[i].Source == SourceBuilt {
			built++
		}
	}
	_, builds := eng.counts()
	assert.Equal(t, 1, builds)
	assert.Equal(t, 1, built)
}

func TestResolveAll(t *testing.T) {
	files := map[string]string{}
	for k, v := range fixtureFiles {
		files[k] = v
	}
	files["go.mod"] += "\nrequire github.com/Shopify/toxiproxy/v2 v2.12.0\n"
	eng := newFakeEngine()
	eng.images["local/etcd:1"] = ImageInfo{ID: "sha256:etcd"}
	eng.images["corp/envoy:1"] = ImageInfo{ID: "sha256:envoy"}
	r := newTestResolver(t, eng, WithRepoRoot(writeFixture(t, files)),
		WithLookupEnv(envMap(map[string]string{"OKBREAK_ETCD_IMAGE": "local/etcd:1", "OKBREAK_ENVOY_IMAGE": "corp/envoy:1"})))
	// A toxiproxy build cached by an earlier run.
	key, ref, err := r.Key(t.Context(), Toxiproxy)
	require.NoError(t, err)
	eng.images[ref] = ImageInfo{ID: "sha256:toxi", Labels: map[string]string{LabelKey: key}}

	imgs, err := r.ResolveAll(t.Context(), Etcd, Toxiproxy, Envoy)
	require.NoError(t, err)
	assert.Equal(t, map[Name]Image{
		Etcd:      {Ref: "local/etcd:1", ID: "sha256:etcd", Source: SourceLocal},
		Toxiproxy: {Ref: ref, ID: "sha256:toxi", Source: SourceLocal, Key: key},
		Envoy:     {Ref: "corp/envoy:1", ID: "sha256:envoy", Source: SourceLocal},
	}, imgs)
	pulls, builds := eng.counts()
	assert.Empty(t, pulls)
	assert.Zero(t, builds)

	// One failure fails the whole resolution, naming the image.
	_, err = r.ResolveAll(t.Context(), Etcd, Name("nope"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nope")
}

func TestModuleVersionFromGoMod(t *testing.T) {
	gomod := []byte(`module example.com/m

go 1.26

require github.com/single/line v1.2.3 // indirect

require (
	// a comment
	github.com/Shopify/toxiproxy/v2 v2.12.0
	go.etcd.io/etcd/server/v3 v3.6.16 // indirect
)

replace github.com/x/y => ../y
`)
	v, ok := moduleVersion(gomod, "go.etcd.io/etcd/server/v3")
	assert.True(t, ok)
	assert.Equal(t, "v3.6.16", v)
	v, ok = moduleVersion(gomod, "github.com/Shopify/toxiproxy/v2")
	assert.True(t, ok)
	assert.Equal(t, "v2.12.0", v)
	v, ok = moduleVersion(gomod, "github.com/single/line")
	assert.True(t, ok)
	assert.Equal(t, "v1.2.3", v)
	_, ok = moduleVersion(gomod, "github.com/x/y")
	assert.False(t, ok)
	assert.Equal(t, "example.com/m", modulePathOf(gomod))
	assert.Equal(t, []string{filepath.Clean("/r/../y")}, localReplaceDirs("/r", gomod))

	// The checkout's go.mod is the single source of truth.
	repo, err := findRepoRoot()
	require.NoError(t, err)
	real, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	require.NoError(t, err)
	for _, name := range []Name{Etcd, Toxiproxy} {
		v, ok := moduleVersion(real, recipes[name].module)
		require.True(t, ok, "%s required by go.mod", recipes[name].module)
		r := newTestResolver(t, newFakeEngine(), WithRepoRoot(repo))
		got, err := r.externalVersion(recipes[name])
		require.NoError(t, err)
		assert.Equal(t, v, got)
	}
}

func TestToxiproxyDockerfile(t *testing.T) {
	assert.Equal(t, "FROM scratch\nCOPY toxiproxy-server /toxiproxy-server\nENTRYPOINT [\"/toxiproxy-server\"]\nCMD [\"-host=0.0.0.0\"]\n",
		recipes[Toxiproxy].dockerfile())
	assert.Equal(t, "FROM scratch\nCOPY etcd /etcd\nENTRYPOINT [\"/etcd\"]\n", recipes[Etcd].dockerfile())
	assert.Equal(t, []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -X github.com/Shopify/toxiproxy/v2.Version=v2.12.0"},
		recipes[Toxiproxy].buildFlags("v2.12.0"))
	assert.Equal(t, []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w"}, recipes[SampleService].buildFlags(""))
}
