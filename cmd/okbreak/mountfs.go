package main

import (
	"io/fs"
	"os"
	"strings"
)

// mountIncidents returns base with the folder dir from disk in place of
// base's incidents folder (at). Incidents from disk laid over the embedded
// default stack need both in one FS: the stack file reader resolves an
// overlay's files (an incident's seed-before.json, the default rules as
// ../alerts/common.yml) in the stack's FS, so the folder must stand where
// the embedded incidents do. Errors then name a file as incidents/NAME.yaml.
func mountIncidents(base fs.FS, dir, at string) fs.FS {
	return mountFS{base: base, at: at, disk: os.DirFS(dir)}
}

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
