package stackfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"gopkg.in/yaml.v3"
)

// DotEnv returns env with the variables of the .env file in dir added the
// way Compose adds them: a variable env already has keeps its value. A
// missing .env is no error. The CLI calls it with os.Environ, so that the
// package itself never reads the process environment. env is not changed.
func DotEnv(dir string, env map[string]string) (map[string]string, error) {
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	p := filepath.Join(dir, ".env")
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	vars, err := dotenv.ParseWithLookup(bytes.NewReader(data), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", p, err)
	}
	for k, v := range vars {
		if _, set := out[k]; !set {
			out[k] = v
		}
	}
	return out, nil
}

var errNoHome = errors.New("HOME is not set")

// resolvePath makes a path from the file usable from the process: relative
// paths resolve against dir (kept relative if dir is), ~ against the HOME
// of env, as Compose resolves them.
func resolvePath(dir string, env map[string]string, p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := env["HOME"]
		if home == "" {
			return "", errNoHome
		}
		return filepath.Join(home, p[1:]), nil
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	return filepath.Join(dir, p), nil
}

// joinPath joins a path to a folder unless it is absolute.
func joinPath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

func (w *walker) resolve(n *yaml.Node, raw, p string) (string, bool) {
	out, err := w.fl.resolve(w.dir, w.env, p)
	switch {
	case errors.Is(err, errNotInFS):
		w.r.at(n, "write it relative to the stack file's folder: a stack file read from an fs.FS names files inside it", "path %q is not inside the stack's fs.FS", raw)
		return "", false
	case err != nil:
		w.r.at(n, "pass HOME in the environment, or write the path from the stack file's folder", "path %q starts with ~ but HOME is not set", raw)
		return "", false
	}
	return out, true
}

func (w *walker) regularFile(n *yaml.Node, what, raw, resolved, folderFix string) bool {
	return w.fl.check(w.r, n, what, raw, resolved, false, folderFix)
}

func (w *walker) folder(n *yaml.Node, what, raw, resolved string) bool {
	return w.fl.check(w.r, n, what, raw, resolved, true, "")
}

// check reports a path that does not exist or is not what it must be (a
// plain file, or a folder when wantDir). Messages quote the path as written
// (raw), never as resolved: a resolved path may be a machine's or hold a
// variable's value.
func (fl files) check(r *report, n *yaml.Node, what, raw, resolved string, wantDir bool, folderFix string) bool {
	fi, err := fl.stat(resolved)
	switch {
	case errors.Is(err, errNotInFS):
		r.at(n, "keep it inside the fs.FS the stack file is read from", "%s %q climbs out of the stack's fs.FS", what, raw)
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		r.at(n, relFix, "%s %q does not exist", what, raw)
	case err != nil:
		r.at(n, "check the path's permissions", "%s %q cannot be read", what, raw)
	case wantDir && !fi.IsDir():
		r.at(n, "point it at a folder", "%s %q is not a folder", what, raw)
	case wantDir:
		return true
	case fi.IsDir():
		r.at(n, folderFix, "%s %q is a folder", what, raw)
	case !fi.Mode().IsRegular():
		r.at(n, "point it at a plain file", "%s %q is not a plain file", what, raw)
	default:
		return true
	}
	return false
}
