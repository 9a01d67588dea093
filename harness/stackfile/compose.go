package stackfile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
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

// maxMount bounds each mounted file read into Mount.Content: okbreak copies
// the files into the containers, and a huge one must not exhaust memory.
const maxMount = 64 << 20

// composeInput is what every compose-go load of the files shares.
type composeInput struct {
	dir      string
	env      map[string]string
	name     string
	profiles []string
}

// loadCompose hands the checked, pruned trees to compose-go twice: with
// variables substituted, for running, and as written, for rendering.
// compose-go merges the files (ConfigDetails with one ConfigFile each, as
// `docker compose -f a -f b`), and reads the trees rather than the bytes,
// so that what the walk reported (and pruned) cannot stop it, and the
// checks that need loaded services still run. It returns nil when
// compose-go rejects the files.
func loadCompose(ctx context.Context, srcs []*source, opts Options) *loaded {
	base := srcs[0].w
	if base.servicesAt == nil || len(base.services) == 0 {
		return nil
	}
	in := composeInput{dir: base.dir, env: base.env, profiles: opts.Profiles,
		name: projectName(lastName(srcs), base.dir, base.fl)}
	rawProject, at, err := in.load(ctx, srcs, false)
	if at != nil {
		// Not interpolated: the message holds only what the files say.
		at.r.at(at.w.servicesAt, "fix the Compose part of the file", "Compose rejects the file%s: %v", merged(srcs, at), err)
	}
	if err != nil {
		return nil
	}
	project, at, err := in.load(ctx, srcs, true)
	if at != nil {
		// compose-go's message may quote substituted values, which can be
		// secrets or machine paths: say only where to look.
		at.r.at(at.w.servicesAt, "check the values of the variables the services use", "Compose rejects the file%s once its variables are substituted", merged(srcs, at))
	}
	if err != nil {
		return nil
	}
	ld := &loaded{name: in.name, services: convert(srcs, project, false), raw: convert(srcs, rawProject, true)}
	for i := range ld.raw {
		if s, ok := find(ld.services, ld.raw[i].Name); ok {
			ld.raw[i].Ports = slices.Clone(s.Ports)
		}
	}
	ld.disabled = map[string]bool{}
	for name := range project.DisabledServices {
		ld.disabled[name] = true
	}
	readContents(srcs, ld.services)
	return ld
}

// merged says, for a message, that an overlay was rejected with the files
// before it.
func merged(srcs []*source, at *source) string {
	if at == srcs[0] {
		return ""
	}
	return " merged over the ones before it"
}

// lastName is the project name the last file to give one gives: Compose
// merges `name` as any other value.
func lastName(srcs []*source) string {
	name := ""
	for _, s := range srcs {
		if s.w.name != "" {
			name = s.w.name
		}
	}
	return name
}

// errModel is a model that could not be built; composeModel reported why.
var errModel = errors.New("no model")

// load runs compose-go over the files' models. When it rejects them, at is
// the first file whose merge it rejects: compose-go says neither where nor,
// always, in which file. at is nil when there was no model to load.
func (in composeInput) load(ctx context.Context, srcs []*source, interpolate bool) (p *types.Project, at *source, err error) {
	cfgs, ok := models(srcs, interpolate)
	if !ok {
		return nil, nil, errModel
	}
	if p, err = composeLoad(ctx, in, cfgs, interpolate); err == nil {
		return p, nil, nil
	}
	for k := 1; k < len(srcs); k++ {
		cfgs, _ := models(srcs[:k], interpolate)
		if _, e := composeLoad(ctx, in, cfgs, interpolate); e != nil {
			return nil, srcs[k-1], err
		}
	}
	return nil, srcs[len(srcs)-1], err
}

// models decodes each file's pruned tree into the model compose-go reads,
// fresh for every load: compose-go changes the maps it is given.
func models(srcs []*source, interpolate bool) ([]types.ConfigFile, bool) {
	cfgs := make([]types.ConfigFile, 0, len(srcs))
	for _, s := range srcs {
		m, ok := composeModel(s.w, s.root)
		if !ok {
			return nil, false
		}
		if !interpolate {
			for _, svc := range asMap(m["services"]) {
				// Container ports must be literal (the walk saw to it), so
				// the raw services take them from the interpolated ones; a
				// published port with a variable would stop compose-go
				// parsing the raw entry.
				delete(asMap(svc), "ports")
			}
		}
		cfgs = append(cfgs, types.ConfigFile{Filename: s.r.file, Config: m})
	}
	return cfgs, true
}

// composeModel decodes the tree into the map compose-go reads, without the
// x-* keys: x-okbreak is read from the nodes, and a regular expression's $
// there must not be taken for a variable. The map is never nil: given
// neither content nor a map, compose-go reads the file from the disk.
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
	if m == nil {
		m = map[string]any{}
	}
	return m, true
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// composeLoad runs compose-go's loader on the models, with the walk's
// environment when interpolate, else as written. Paths stay as written
// (resolving is ours: each against the folder of the file that wrote it,
// kept relative when that is), consistency is checked by the walk and the
// cross checks, which can say where.
func composeLoad(ctx context.Context, in composeInput, cfgs []types.ConfigFile, interpolate bool) (p *types.Project, err error) {
	defer func() {
		// compose-go decodes by reflection; a tree it did not expect must
		// not take the caller down.
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("compose-go failed: %v", v)
		}
	}()
	details := types.ConfigDetails{
		WorkingDir:  in.dir,
		ConfigFiles: cfgs,
		// compose-go writes COMPOSE_PROJECT_NAME into this map: never the
		// caller's. As written, nothing is looked up: a variable listed
		// without a value stays unset.
		Environment: types.Mapping{},
	}
	if interpolate {
		maps.Copy(details.Environment, in.env)
	}
	return loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(in.name, true)
		o.SkipInterpolation = !interpolate
		o.ResolvePaths = false
		o.SkipConsistencyCheck = true
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
		o.SkipInclude = true
		o.SkipExtends = true
		o.Profiles = in.profiles
		// The default substitution logs every unset variable through
		// logrus, a process-wide logger a library must not write to.
		o.Interpolate.Substitute = func(s string, m template.Mapping) (string, error) {
			return template.SubstituteWithOptions(s, m, template.WithoutLogging)
		}
	})
}

// projectName is the file's name, else its folder's, as Compose picks it.
// An fs.FS's root has no name of its own, and the process's working folder
// is no business of the FS's: the name is then "stack".
func projectName(name, dir string, fl files) string {
	if name != "" {
		return name
	}
	base := path.Base(dir)
	if fl.fsys == nil {
		base = filepath.Base(dir)
		if base == "." || base == ".." || base == string(filepath.Separator) {
			if abs, err := filepath.Abs(dir); err == nil {
				base = filepath.Base(abs)
			}
		}
	}
	if n := loader.NormalizeProjectName(base); n != "" {
		return n
	}
	return "stack"
}

// convert turns compose-go's services into ours, sorted by name. raw says
// the project was loaded as written: paths are then kept as written too.
// Positions are the base's: every service is declared there.
func convert(srcs []*source, p *types.Project, raw bool) []Service {
	out := make([]Service, 0, len(p.Services))
	for name, s := range p.Services {
		svc := Service{
			Name: name, Image: s.Image, Restart: s.Restart,
			Command: slices.Clone([]string(s.Command)), Entrypoint: slices.Clone([]string(s.Entrypoint)),
			Environment: environment(s.Environment, raw),
			Ports:       ports(s.Ports),
			Profiles:    slices.Clone(s.Profiles),
			Healthcheck: healthcheckOf(s.HealthCheck),
		}
		if k := srcs[0].w.services[name]; k != nil {
			svc.Line, svc.Col = k.Line, k.Column
		}
		if s.Build != nil {
			svc.Build = &ComposeBuild{Context: resolved(srcs, pathKey{kind: keyContext, service: name}, s.Build.Context, raw), Dockerfile: s.Build.Dockerfile}
			if remoteContext(s.Build.Context) {
				svc.Build.Context = s.Build.Context
			}
		}
		for _, v := range s.Volumes {
			src := resolved(srcs, pathKey{keyVolume, name, path.Clean(v.Target)}, v.Source, raw)
			svc.Files = append(svc.Files, Mount{Source: src, Target: v.Target, ReadOnly: v.ReadOnly})
		}
		svc.Configs = configs(srcs, p, s.Configs, raw)
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

// resolved resolves a merged path against the folder of the file that
// wrote it, unless raw.
func resolved(srcs []*source, k pathKey, p string, raw bool) string {
	if raw {
		return p
	}
	s, _ := origin(srcs, k)
	if r, err := s.w.fl.resolve(s.w.dir, s.w.env, p); err == nil {
		return r
	}
	return p
}

// readContents reads every file the services mount into Mount.Content, so
// that callers never open Source themselves (from an fs.FS they could
// not), reporting a file that cannot be read where the file that wrote its
// path names it.
func readContents(srcs []*source, svcs []Service) {
	read := func(m *Mount, k pathKey) {
		if m.Source == "" {
			return
		}
		s, n := origin(srcs, k)
		data, err := s.w.fl.read(m.Source, maxMount)
		var raw string
		if d := deref(n); d != nil {
			raw = d.Value
		}
		switch {
		case errors.Is(err, errTooLarge):
			s.r.at(n, "mount a smaller file: okbreak copies each mounted file into the container", "the file of %q is over 64 MiB", raw)
		case err != nil:
			s.r.at(n, "check the file's permissions", "the file of %q cannot be read", raw)
		}
		m.Content = data
	}
	for i := range svcs {
		for j := range svcs[i].Files {
			m := &svcs[i].Files[j]
			read(m, pathKey{keyVolume, svcs[i].Name, path.Clean(m.Target)})
		}
		for j := range svcs[i].Configs {
			m := &svcs[i].Configs[j]
			read(m, pathKey{kind: keyConfig, name: m.Name})
		}
	}
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

func healthcheckOf(h *types.HealthCheckConfig) *Healthcheck {
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
func configs(srcs []*source, p *types.Project, cs []types.ServiceConfigObjConfig, raw bool) []Mount {
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
			m.Source = resolved(srcs, pathKey{kind: keyConfig, name: c.Source}, top.File, raw)
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
