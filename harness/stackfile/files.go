package stackfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// files is where a stack file and every file it names are read from:
// Options.FS when set (slash paths from its root), else the disk. Loading
// reads through it only, so that a stack file embedded in a binary loads
// with no disk at all, and its checks say the same either way.
type files struct{ fsys fs.FS }

// errNotInFS is a path an fs.FS cannot hold: absolute, starting with ~, or
// climbing out of its root.
var errNotInFS = errors.New("not a path inside the stack's fs.FS")

// errTooLarge is a file over the limit its reader sets.
var errTooLarge = errors.New("file too large")

// dir is the folder of a stack file, the default for Options.Dir.
func (fl files) dir(name string) string {
	if fl.fsys != nil {
		return path.Dir(name)
	}
	return filepath.Dir(name)
}

// join joins a path to a folder; on disk an absolute path stays as it is.
func (fl files) join(dir, p string) string {
	if fl.fsys != nil {
		return path.Join(dir, p)
	}
	return joinPath(dir, p)
}

// resolve makes a path from the file usable: relative paths against dir,
// ~ against env's HOME on disk. An fs.FS has no home and no absolute paths:
// its files are named from the stack file's folder.
func (fl files) resolve(dir string, env map[string]string, p string) (string, error) {
	if fl.fsys == nil {
		return resolvePath(dir, env, p)
	}
	if p == "~" || strings.HasPrefix(p, "~/") || path.IsAbs(p) {
		return "", errNotInFS
	}
	return path.Join(dir, p), nil
}

// fsPath turns a path into the name fs.FS wants: clean, without ./ and
// without climbing out of the root.
func fsPath(op, p string) (string, error) {
	c := path.Clean(p)
	if !fs.ValidPath(c) {
		return "", &fs.PathError{Op: op, Path: p, Err: errNotInFS}
	}
	return c, nil
}

func (fl files) stat(p string) (fs.FileInfo, error) {
	if fl.fsys == nil {
		return os.Stat(p)
	}
	c, err := fsPath("stat", p)
	if err != nil {
		return nil, err
	}
	return fs.Stat(fl.fsys, c)
}

func (fl files) open(p string) (fs.File, error) {
	if fl.fsys == nil {
		return os.Open(p)
	}
	c, err := fsPath("open", p)
	if err != nil {
		return nil, err
	}
	return fl.fsys.Open(c)
}

// read reads a whole file, or fails with errTooLarge past limit bytes
// (limit < 0: no limit): a path such as a huge log must not exhaust memory.
func (fl files) read(p string, limit int64) ([]byte, error) {
	f, err := fl.open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if limit >= 0 {
		r = io.LimitReader(f, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if limit >= 0 && int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: %w", p, errTooLarge)
	}
	return data, nil
}

// glob expands a pattern, sorted as filepath.Glob and fs.Glob sort.
func (fl files) glob(pattern string) ([]string, error) {
	if fl.fsys == nil {
		return filepath.Glob(pattern)
	}
	c, err := fsPath("glob", pattern)
	if err != nil {
		return nil, err
	}
	return fs.Glob(fl.fsys, c)
}

// ReadFile reads a file the stack file names (File.Rules, File.Catalog, a
// path of Services) from where the stack file was read: Options.FS, or the
// disk. Callers that read rules and the catalog use it, so that they work
// for an embedded stack file too.
func (f *File) ReadFile(p string) ([]byte, error) {
	return f.fl.read(p, -1)
}
