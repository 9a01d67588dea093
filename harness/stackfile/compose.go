package stackfile

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// loaded is what compose-go made of the services.
type loaded struct {
	name     string
	services []Service
	raw      []Service
	// disabled names the services the active profiles leave out.
	disabled map[string]bool
}

// loadCompose hands the checked, pruned tree to compose-go twice: with
// variables substituted, for running, and as written, for rendering.
// compose-go reads the tree rather than the bytes, so that what the walk
// reported (and pruned) cannot stop it, and the checks that need loaded
// services still run. It returns nil when compose-go rejects the file.
func loadCompose(ctx context.Context, w *walker, root *yaml.Node, opts Options) *loaded {
	if w.servicesAt == nil || len(w.services) == 0 {
		return nil
	}
	ld := &loaded{name: projectName(w.name, w.dir)}
	rawModel, ok := composeModel(w, root)
	if !ok {
		return nil
	}
	for _, s := range asMap(rawModel["services"]) {
		// Container ports must be literal (the walk saw to it), so the raw
		// services take them from the interpolated ones; a published port
		// with a variable would stop compose-go parsing the raw entry.
		delete(asMap(s), "ports")
	}
	rawProject, err := composeLoad(ctx, w, rawModel, false, ld.name, opts.Profiles)
	if err != nil {
		// Not interpolated: the message holds only what the file says.
		w.r.at(w.servicesAt, "fix the Compose part of the file", "Compose rejects the file: %v", err)
		return nil
	}
	model, _ := composeModel(w, root)
	project, err := composeLoad(ctx, w, model, true, ld.name, opts.Profiles)
	if err != nil {
		// compose-go's message may quote substituted values, which can be
		// secrets or machine paths: say only where to look.
		w.r.at(w.servicesAt, "check the values of the variables the services use", "Compose rejects the file once its variables are substituted")
		return nil
	}
	ld.services = convert(w, project, false)
	ld.raw = convert(w, rawProject, true)
	for i := range ld.raw {
		if s, ok := find(ld.services, ld.raw[i].Name); ok {
			ld.raw[i].Ports = slices.Clone(s.Ports)
		}
	}
	ld.disabled = map[string]bool{}
	for name := range project.DisabledServices {
		ld.disabled[name] = true
	}
	return ld
}

// composeModel decodes the tree into the map compose-go reads, without the
// x-* keys: x-okbreak is read from the nodes, and a regular expression's $
// there must not be taken for a variable.
func composeModel(w *walker, root *yaml.Node) (map[string]any, bool) {
	var m map[string]any
	if err := root.Decode(&m); err != nil {
		w.r.at(root, "use fewer YAML aliases, or write the values out", "YAML: %s", trimLine(strings.TrimPrefix(err.Error(), "yaml: ")))
		return nil, false
	}
	for k := range m {
		if strings.HasPrefix(k, "x-") {
			delete(m, k)
		}
	}
	return m, true
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// composeLoad runs compose-go's loader on a model, with the walk's
// environment when interpolate, else as written. Paths stay as written (resolving is ours, so
// that they stay relative when Dir is), consistency is checked by the walk
// and the cross checks, which can say where.
func composeLoad(ctx context.Context, w *walker, model map[string]any, interpolate bool, name string, profiles []string) (p *types.Project, err error) {
	defer func() {
		// compose-go decodes by reflection; a tree it did not expect must
		// not take the caller down.
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("compose-go failed: %v", v)
		}
	}()
	details := types.ConfigDetails{
		WorkingDir:  w.dir,
		ConfigFiles: []types.ConfigFile{{Filename: w.r.file, Config: model}},
		// compose-go writes COMPOSE_PROJECT_NAME into this map: never the
		// caller's. As written, nothing is looked up: a variable listed
		// without a value stays unset.
		Environment: types.Mapping{},
	}
	if interpolate {
		maps.Copy(details.Environment, w.env)
	}
	return loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, true)
		o.SkipInterpolation = !interpolate
		o.ResolvePaths = false
		o.SkipConsistencyCheck = true
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
		o.SkipInclude = true
		o.SkipExtends = true
		o.Profiles = profiles
		// The default substitution logs every unset variable through
		// logrus, a process-wide logger a library must not write to.
		o.Interpolate.Substitute = func(s string, m template.Mapping) (string, error) {
			return template.SubstituteWithOptions(s, m, template.WithoutLogging)
		}
	})
}

// projectName is the file's name, else its folder's, as Compose picks it.
func projectName(name, dir string) string {
	if name != "" {
		return name
	}
	base := filepath.Base(dir)
	if base == "." || base == ".." || base == string(filepath.Separator) {
		if abs, err := filepath.Abs(dir); err == nil {
			base = filepath.Base(abs)
		}
	}
	if n := loader.NormalizeProjectName(base); n != "" {
		return n
	}
	return "stack"
}

// convert turns compose-go's services into ours, sorted by name. raw says
// the project was loaded as written: paths are then kept as written too.
func convert(w *walker, p *types.Project, raw bool) []Service {
	out := make([]Service, 0, len(p.Services))
	for name, s := range p.Services {
		svc := Service{
			Name: name, Image: s.Image, Restart: s.Restart,
			Command: slices.Clone([]string(s.Command)), Entrypoint: slices.Clone([]string(s.Entrypoint)),
			Environment: environment(s.Environment, raw),
			Ports:       ports(s.Ports),
			Profiles:    slices.Clone(s.Profiles),
			Healthcheck: healthcheck(s.HealthCheck),
		}
		if k := w.services[name]; k != nil {
			svc.Line, svc.Col = k.Line, k.Column
		}
		if s.Build != nil {
			svc.Build = &ComposeBuild{Context: w.path(s.Build.Context, raw), Dockerfile: s.Build.Dockerfile}
			if remoteContext(s.Build.Context) {
				svc.Build.Context = s.Build.Context
			}
		}
		for _, v := range s.Volumes {
			svc.Files = append(svc.Files, Mount{Source: w.path(v.Source, raw), Target: v.Target, ReadOnly: v.ReadOnly})
		}
		svc.Configs = configs(w, p, s.Configs, raw)
		if len(s.DependsOn) > 0 {
			svc.DependsOn = map[string]string{}
			for dep, d := range s.DependsOn {
				svc.DependsOn[dep] = d.Condition
			}
		}
		out = append(out, svc)
	}
	slices.SortFunc(out, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// path resolves a path of the file, unless raw.
func (w *walker) path(p string, raw bool) string {
	if raw {
		return p
	}
	if r, err := resolvePath(w.dir, w.env, p); err == nil {
		return r
	}
	return p
}

func environment(m types.MappingWithEquals, raw bool) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch {
		case v != nil:
			out[k] = *v
		case raw:
			// Passed through from the host: keep it a variable.
			out[k] = "${" + k + "}"
		}
	}
	return out
}

func ports(ps []types.ServicePortConfig) []int {
	var out []int
	for _, p := range ps {
		out = append(out, int(p.Target))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func healthcheck(h *types.HealthCheckConfig) *Healthcheck {
	if h == nil {
		return nil
	}
	d := func(p *types.Duration) time.Duration {
		if p == nil {
			return 0
		}
		return time.Duration(*p)
	}
	out := &Healthcheck{
		Test:     slices.Clone([]string(h.Test)),
		Interval: d(h.Interval), Timeout: d(h.Timeout),
		StartPeriod: d(h.StartPeriod), StartInterval: d(h.StartInterval),
		Disable: h.Disable,
	}
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	return out
}

// configs turns a service's configs into mounts, each carrying the file or
// the content of the top-level config it names.
func configs(w *walker, p *types.Project, cs []types.ServiceConfigObjConfig, raw bool) []Mount {
	var out []Mount
	for _, c := range cs {
		top, ok := p.Configs[c.Source]
		if !ok {
			continue
		}
		m := Mount{Name: c.Source, Target: c.Target}
		if m.Target == "" {
			m.Target = "/" + c.Source
		}
		if top.File != "" {
			m.Source = w.path(top.File, raw)
		} else {
			m.Content = []byte(top.Content)
		}
		out = append(out, m)
	}
	return out
}

func find(ss []Service, name string) (Service, bool) {
	for _, s := range ss {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}
