package stackfile

import (
	"context"
	"errors"
	"fmt"
	"maps"
)

// Load reads and checks the stack file at path: LoadFiles with one file.
func Load(ctx context.Context, path string, opts Options) (*File, error) {
	return LoadFiles(ctx, []string{path}, opts)
}

// LoadFiles reads and checks a stack file and its overlays: paths[0] is the
// base, each later file an overlay merged over the ones before it, the way
// `docker compose -f base -f overlay` merges them (compose-go merges the
// Compose part). An overlay is a variant of the same system: it changes the
// base's services and adds none. Its x-okbreak keys replace the base's,
// except components, which merge per service and field. Relative paths in
// each file resolve against that file's folder (or opts.Dir), and files are
// read from opts.FS when set. The error is an Errors holding every problem
// of every file, each naming its file, unless a stack file cannot be read
// at all. LoadFiles is safe for concurrent use.
func LoadFiles(ctx context.Context, paths []string, opts Options) (*File, error) {
	return LoadWith(ctx, paths, nil, opts)
}

// Overlay is an overlay already read, e.g. one written inside another
// file (an incident's `before:`): Name is what messages call it and where
// its relative paths resolve from; Data is YAML whose positions are Name's
// own (the host file with every other line blanked).
type Overlay struct {
	Name string
	Data []byte
}

// LoadWith is LoadFiles with overlays already read laid over the files, in
// order, by the same rules.
func LoadWith(ctx context.Context, paths []string, overlays []Overlay, opts Options) (*File, error) {
	if len(paths) == 0 {
		return nil, errors.New("read stack file: no file given")
	}
	fl := files{opts.FS}
	ins := make([]input, 0, len(paths)+len(overlays))
	for _, p := range paths {
		data, err := fl.read(p, -1)
		if err != nil {
			return nil, fmt.Errorf("read stack file: %w", err)
		}
		ins = append(ins, input{name: p, data: data})
	}
	for _, o := range overlays {
		ins = append(ins, input{name: o.Name, data: o.Data})
	}
	return parse(ctx, ins, opts)
}

// Parse checks a stack file already read; name is what messages call it,
// and its folder is the default opts.Dir. It reads the files the stack
// file names (to check they exist, and to fill Mount.Content and the seed),
// from opts.FS when set. The error, if any, is an Errors with every problem
// found, sorted by position; on error the File is nil. Parse is safe for
// concurrent use and does not keep opts' maps.
func Parse(ctx context.Context, name string, data []byte, opts Options) (*File, error) {
	return parse(ctx, []input{{name: name, data: data}}, opts)
}

// input is one stack file's name and bytes.
type input struct {
	name string
	data []byte
}

// parse checks the files in stages, each over every file, so that one run
// reports the problems of all of them.
func parse(ctx context.Context, ins []input, opts Options) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("parse stack file: %w", err)
	}
	opts.Env = maps.Clone(opts.Env)
	fl := files{opts.FS}
	// Stage 0: each file's YAML.
	srcs, ok := documents(ins, fl, opts.Dir)
	if !ok {
		return nil, errorsOf(srcs)
	}
	f := &File{Path: ins[0].name, Dir: srcs[0].dir, fl: fl}
	for _, in := range ins {
		f.Paths = append(f.Paths, in.name)
	}
	// Stage 1: the Compose part, node by node, with positions; an overlay
	// against what the files before it declared.
	walkAll(srcs, opts.Env, fl)
	// Stage 2: x-okbreak, from the same nodes, then merged.
	from := mergeX(f, srcs)
	// Stage 3: compose-go loads (and merges) what stage 1 passed.
	for _, s := range srcs {
		s.w.prunedTree(s.root)
	}
	ld := loadCompose(ctx, srcs, opts)
	// Stage 4: what needs both.
	crossCheck(srcs, from, ld, f)
	if err := errorsOf(srcs); err != nil {
		return nil, err
	}
	if ld == nil {
		// Unreachable while every path that drops the services reports
		// why; kept so that a missed report cannot return empty services.
		return nil, Errors{{File: f.Path, Line: 1, Col: 1, Msg: "no services could be loaded", Fix: "fix the Compose part of the file"}}
	}
	f.Name, f.Services, f.Raw = ld.name, ld.services, ld.raw
	return f, nil
}
