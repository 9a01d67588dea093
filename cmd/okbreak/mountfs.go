package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// mountIncidents returns an FS that is base with the folder dir from disk
// laid over it at a path, and that path. Incidents from disk laid over the
// embedded default stack need both in one FS: the stack file reader
// resolves an overlay's files (an incident's seed-before.json) in the
// stack's FS. The path is dir itself when an FS path can hold it and base
// has nothing there, so that errors name the file as the user wrote it;
// else a name of its own, which hides none of base's files.
func mountIncidents(base fs.FS, dir string) (fs.FS, string) {
	// An absolute folder keeps its path, less the leading slash an FS
	// path cannot have.
	at := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(dir)), "/")
	if _, err := fs.Stat(base, at); err == nil || !fs.ValidPath(at) || at == "." || at == "" {
		at = mountPoint
	}
	return mountFS{base: base, at: at, disk: os.DirFS(dir)}, at
}

// mountPoint is where a folder that cannot be mounted at its own name
// goes: no embedded file lives there.
const mountPoint = "okbreak-incidents-dir"

// mountFS serves names under at from disk, everything else from base.
type mountFS struct {
	base fs.FS
	at   string
	disk fs.FS
}

func (m mountFS) Open(name string) (fs.File, error) {
	if name == m.at {
		return m.disk.Open(".")
	}
	if rest, ok := strings.CutPrefix(name, m.at+"/"); ok {
		return m.disk.Open(rest)
	}
	return m.base.Open(name)
}
