package stackfile

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// Load reads and checks the stack file at path. Relative paths in it
// resolve against opts.Dir, by default path's folder. The error is an
// Errors holding every problem found, sorted by position, unless the file
// cannot be read at all. Load is safe for concurrent use.
func Load(ctx context.Context, path string, opts Options) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack file: %w", err)
	}
	return Parse(ctx, path, data, opts)
}

// Parse checks a stack file already read; name is what messages call it,
// and its folder is the default opts.Dir. It reads the files the stack
// file names (to check they exist, and the seed). The error, if any, is an
// Errors with every problem found, sorted by position; on error the File is
// nil. Parse is safe for concurrent use and does not keep opts' maps.
func Parse(ctx context.Context, name string, data []byte, opts Options) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("parse stack file: %w", err)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(name)
	}
	opts.Env = maps.Clone(opts.Env)
	r := &report{file: name}
	root := document(r, data)
	if root == nil {
		return nil, r.err()
	}
	f := &File{Path: name, Dir: opts.Dir}
	// Stage 1: the Compose part, node by node, with positions.
	w := newWalker(r, opts.Dir, opts.Env)
	w.top(root)
	// Stage 2: x-okbreak, from the same nodes.
	x := decodeX(w, f)
	// Stage 3: compose-go loads what stage 1 passed.
	w.prunedTree(root)
	ld := loadCompose(ctx, w, root, opts)
	// Stage 4: what needs both.
	crossCheck(w, x, ld, f)
	if err := r.err(); err != nil {
		return nil, err
	}
	if ld == nil {
		// Unreachable while every path that drops the services reports
		// why; kept so that a missed report cannot return empty services.
		return nil, Errors{{File: name, Line: 1, Col: 1, Msg: "no services could be loaded", Fix: "fix the Compose part of the file"}}
	}
	f.Name, f.Services, f.Raw = ld.name, ld.services, ld.raw
	return f, nil
}
