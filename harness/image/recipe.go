package image

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

// recipe says how to build one component image from Go source.
type recipe struct {
	name Name
	// mainPkg is a main package of this repository ("./cmd/x"), or "".
	mainPkg string
	// module and pkg name an external main package built at the version
	// this repository's go.mod requires of module.
	module, pkg string
	// binary is the file name in the image; the entrypoint is "/"+binary.
	binary string
	// cmd is the image's default CMD (arguments to the entrypoint).
	cmd []string
	// versionVar is a string variable set to the module version at link
	// time, as the project's own releases do ("" for none).
	versionVar string
	// release turns the module version into the one the project's releases
	// report, where they differ (nil: the module version as it is).
	release func(moduleVersion string) string
	// pinned is the module version to build instead of the one go.mod
	// requires, for a module whose go.mod version does not build ("" for
	// go.mod's).
	pinned string
	// root is the module a team's main package is built in ("" for this
	// repository's own recipes, built in the okbreak source).
	root string
	// dockerDir is a team's Dockerfile folder, built as it is.
	dockerDir string
}

// repo reports whether the recipe builds a main package of a module on disk
// (this repository's, or a team's).
func (rc recipe) repo() bool { return rc.mainPkg != "" }

var recipes = map[Name]recipe{
	SampleService: {name: SampleService, mainPkg: "./cmd/sample-service", binary: "sample-service"},
	ControlPlane:  {name: ControlPlane, mainPkg: "./cmd/control-plane", binary: "control-plane"},
	// Runs with the Docker socket mounted read-only; it only reads.
	ContainerExporter: {name: ContainerExporter, mainPkg: "./cmd/container-exporter", binary: "container-exporter"},
	// The etcd release binary is the main package at the root of the server
	// module. Its go.mod has replace directives, so `go install @version`
	// refuses it: it is built inside a throwaway wrapper module instead.
	Etcd: {name: Etcd, module: "go.etcd.io/etcd/server/v3", pkg: "go.etcd.io/etcd/server/v3", binary: "etcd"},
	// The stack adds -proxy-metrics -runtime-metrics (and anything else) by
	// replacing CMD; -host=0.0.0.0 is the part every run needs.
	Toxiproxy: {
		name: Toxiproxy, module: "github.com/Shopify/toxiproxy/v2", pkg: "github.com/Shopify/toxiproxy/v2/cmd/server",
		binary: "toxiproxy-server", cmd: []string{"-host=0.0.0.0"},
		// Otherwise the server reports version "git" on /version.
		versionVar: "github.com/Shopify/toxiproxy/v2.Version",
	},
	// The config paths are the official images', so configs written for
	// those work here; the data lives in /data, as /prometheus is the binary
	// here. The web UI is not embedded (that needs its npm build): the HTTP
	// API is all okbreak reads.
	Prometheus: {
		name: Prometheus, module: "github.com/prometheus/prometheus", pkg: "github.com/prometheus/prometheus/cmd/prometheus",
		binary: "prometheus", cmd: []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/data"},
		versionVar: prometheusVersionVar, release: prometheusRelease,
	},
	// Pinned: go.mod has a later Alertmanager only indirectly (through the
	// Prometheus module), and from v0.32 the module lacks the UI assets its
	// main package embeds, so it does not build outside its own repository.
	// One Alertmanager needs no cluster: an empty listen address turns the
	// gossip port off. Data in /data, as for Prometheus.
	Alertmanager: {
		name: Alertmanager, module: "github.com/prometheus/alertmanager", pkg: "github.com/prometheus/alertmanager/cmd/alertmanager",
		binary: "alertmanager", cmd: []string{"--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/data", "--cluster.listen-address="},
		versionVar: prometheusVersionVar, release: func(v string) string { return strings.TrimPrefix(v, "v") },
		pinned: "v0.31.1",
	},
}

// prometheusVersionVar is where Prometheus projects keep the version their
// binaries report (flag --version, metric *_build_info).
const prometheusVersionVar = "github.com/prometheus/common/version.Version"

// prometheusRelease maps a Prometheus module version to the release it is:
// from 3.0 the module is numbered v0.<major*100+minor>.<patch>, so v0.316.0
// is 3.16.0. Older numbering is returned without its "v".
func prometheusRelease(v string) string {
	v = strings.TrimPrefix(v, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) != 3 || parts[0] != "0" {
		return v
	}
	minor, err := strconv.Atoi(parts[1])
	if err != nil || minor < 300 {
		return v
	}
	return fmt.Sprintf("%d.%d.%s", minor/100, minor%100, parts[2])
}

// dockerfile returns the Dockerfile of a recipe's image. It is part of the
// cache key: changing the entrypoint or CMD rebuilds.
func (rc recipe) dockerfile() string {
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	fmt.Fprintf(&b, "COPY %s /%s\n", rc.binary, rc.binary)
	ep, _ := json.Marshal([]string{"/" + rc.binary})
	fmt.Fprintf(&b, "ENTRYPOINT %s\n", ep)
	if len(rc.cmd) > 0 {
		cmd, _ := json.Marshal(rc.cmd)
		fmt.Fprintf(&b, "CMD %s\n", cmd)
	}
	return b.String()
}

// buildFlags returns the go build flags of a recipe's binary. -buildvcs=false
// keeps the binary independent of the Git state (and of Git's ownership
// checks when the checkout belongs to another user). They are part of the
// cache key.
func (rc recipe) buildFlags(version string) []string {
	ldflags := "-s -w"
	if rc.versionVar != "" && version != "" {
		if rc.release != nil {
			version = rc.release(version)
		}
		ldflags += " -X " + rc.versionVar + "=" + version
	}
	return []string{"-trimpath", "-buildvcs=false", "-ldflags=" + ldflags}
}

// moduleVersion returns the version of modPath that the go.mod text requires.
func moduleVersion(gomod []byte, modPath string) (string, bool) {
	f, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return "", false
	}
	for _, r := range f.Require {
		if r.Mod.Path == modPath {
			return r.Mod.Version, true
		}
	}
	return "", false
}

// modulePathOf returns the module path declared by the go.mod text.
func modulePathOf(gomod []byte) string {
	return modfile.ModulePath(gomod)
}

// localReplaceDirs returns the directories of replace directives that point
// at the file system; their Go code is part of a repository build.
func localReplaceDirs(root string, gomod []byte) []string {
	// Parse, not ParseLax: the lax parser skips replace directives.
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, r := range f.Replace {
		target := r.New.Path
		if r.New.Version != "" || !(strings.HasPrefix(target, "./") || strings.HasPrefix(target, "../") || filepath.IsAbs(target)) {
			continue
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(root, target)
		}
		dirs = append(dirs, filepath.Clean(target))
	}
	return dirs
}

// externalVersion returns the version of an external recipe's module: its
// pin if it has one, else from the checkout's go.mod (the single source of
// truth), or, without a checkout, from the versions linked into this binary.
func (r *Resolver) externalVersion(rc recipe) (string, error) {
	if rc.pinned != "" {
		return rc.pinned, nil
	}
	if r.cfg.repoRoot != "" {
		gomod, err := os.ReadFile(filepath.Join(r.cfg.repoRoot, "go.mod"))
		if err != nil {
			return "", fmt.Errorf("read go.mod: %w", err)
		}
		// Another module's go.mod (okbreak run from a user's project) says
		// nothing about the versions okbreak was made for.
		if modulePathOf(gomod) == ModulePath {
			if v, ok := moduleVersion(gomod, rc.module); ok {
				return v, nil
			}
			return "", fmt.Errorf("%s/go.mod does not require %s: cannot tell which version of %s to build", r.cfg.repoRoot, rc.module, rc.name)
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == rc.module {
				if d.Replace != nil && d.Replace.Version != "" {
					return d.Replace.Version, nil
				}
				return d.Version, nil
			}
		}
	}
	return "", fmt.Errorf("no okbreak checkout (go.mod of %s) to read the version of %s from: run from the okbreak checkout or set %s", ModulePath, rc.module, EnvVar(rc.name))
}
