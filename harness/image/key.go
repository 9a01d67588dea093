package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// keyVersion changes whenever the way images are built changes in a way the
// other inputs do not show, so that old cached images are not reused.
const keyVersion = "okbreak-image-key-v1"

// keyInputs is everything a cache key covers besides source files.
type keyInputs struct {
	tc   toolchain
	arch string // target GOARCH
}

func (k keyInputs) writeHeader(h io.Writer, rc recipe, version string) {
	fmt.Fprintf(h, "%s\nname=%s\n", keyVersion, rc.name)
	fmt.Fprintf(h, "go=%s\ngoos=linux\ngoarch=%s\ncgo=0\n", k.tc.version, k.arch)
	fmt.Fprintf(h, "flags=%q\n", rc.buildFlags(version))
	fmt.Fprintf(h, "goenv=%s\n", k.tc.buildEnv)
	fmt.Fprintf(h, "dockerfile=%q\n", rc.dockerfile())
}

// externalKey is the cache key of an image built from a module at a fixed
// version: module versions are immutable, so path@version and the toolchain
// identify the binary.
func externalKey(rc recipe, version string, in keyInputs) string {
	h := sha256.New()
	in.writeHeader(h, rc, version)
	fmt.Fprintf(h, "module=%s@%s\npkg=%s\n", rc.module, version, rc.pkg)
	return hex.EncodeToString(h.Sum(nil))
}

// repoKey is the cache key of an image built from a main package of the
// module at root: go.mod, go.sum (and go.work if one is in force), the
// toolchain, and every file that can be compiled or embedded into a package
// of this module that the main package depends on. Test files and packages
// the main package does not import do not count.
//
// The package graph is walked with go/build instead of `go list -deps`
// (which loads every dependency, ~0.5 s here): only this module's packages
// are visited. Files are over-approximated (every non-test .go file of a
// package directory, whatever its build constraints), which can only cause an
// unneeded rebuild, never a stale image. Local replace directories are hashed
// whole for the same reason.
func repoKey(root string, rc recipe, in keyInputs) (string, error) {
	h := sha256.New()
	in.writeHeader(h, rc, "")
	fmt.Fprintf(h, "main=%s\n", rc.mainPkg)

	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	modPath := modulePathOf(gomod)
	if modPath == "" {
		return "", fmt.Errorf("%s/go.mod declares no module", root)
	}
	hashBytes(h, "go.mod", gomod)
	if err := hashFileIfExists(h, filepath.Join(root, "go.sum"), "go.sum"); err != nil {
		return "", err
	}
	if w := in.tc.gowork; w != "" && w != "off" {
		if err := hashFileIfExists(h, w, w); err != nil {
			return "", err
		}
		if err := hashFileIfExists(h, w+".sum", w+".sum"); err != nil {
			return "", err
		}
	}

	files, err := packageFiles(root, modPath, rc.mainPkg, in.arch)
	if err != nil {
		return "", err
	}
	for _, dir := range localReplaceDirs(root, gomod) {
		more, err := treeGoFiles(dir)
		if err != nil {
			return "", fmt.Errorf("hash local replacement %s: %w", dir, err)
		}
		files = append(files, more...)
	}
	sort.Strings(files)
	prev := ""
	for _, f := range files {
		if f == prev {
			continue
		}
		prev = f
		// Paths relative to the checkout, so that two checkouts of the same
		// code share images.
		name := f
		if rel, err := filepath.Rel(root, f); err == nil && !strings.HasPrefix(rel, "..") {
			name = filepath.ToSlash(rel)
		}
		if err := hashFileIfExists(h, f, name); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// packageFiles returns the absolute paths of the files that make up the
// packages of module modPath (rooted at root) that mainPkg depends on,
// mainPkg included.
func packageFiles(root, modPath, mainPkg, goarch string) ([]string, error) {
	bctx := build.Default
	bctx.GOOS = "linux"
	bctx.GOARCH = goarch
	bctx.CgoEnabled = false
	bctx.Dir = root

	start := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(mainPkg, "./")))
	seen := map[string]bool{start: true}
	queue := []string{start}
	var files []string
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		p, err := bctx.ImportDir(dir, 0)
		if err != nil {
			var noGo *build.NoGoError
			if errors.As(err, &noGo) || errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("package %s: no buildable Go files in %s", importPathOf(root, modPath, dir), dir)
			}
			return nil, fmt.Errorf("read package in %s: %w", dir, err)
		}
		pf, err := dirFiles(dir, p.EmbedPatterns)
		if err != nil {
			return nil, err
		}
		files = append(files, pf...)
		for _, imp := range p.Imports {
			if imp != modPath && !strings.HasPrefix(imp, modPath+"/") {
				continue
			}
			sub := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(imp, modPath)))
			if seen[sub] {
				continue
			}
			seen[sub] = true
			if nestedModule(root, sub) {
				// Another module under our tree: versioned through go.mod and
				// go.sum, or hashed whole as a local replacement.
				continue
			}
			queue = append(queue, sub)
		}
	}
	return files, nil
}

func importPathOf(root, modPath, dir string) string {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." {
		return modPath
	}
	return modPath + "/" + filepath.ToSlash(rel)
}

// nestedModule reports whether dir lies in a module nested below root.
func nestedModule(root, dir string) bool {
	for d := dir; d != root && len(d) > len(root); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return true
		}
	}
	return false
}

// compiledExt lists the file kinds the go command compiles or links without
// cgo, besides .go files.
var compiledExt = map[string]bool{".s": true, ".S": true, ".h": true, ".syso": true}

// dirFiles returns a package directory's source files (all non-test .go
// files and assembly, whatever their build constraints) and the files its
// //go:embed patterns match (directories in full).
func dirFiles(dir string, embedPatterns []string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list package dir %s: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		ext := filepath.Ext(n)
		if ext == ".go" && !strings.HasSuffix(n, "_test.go") || compiledExt[ext] {
			files = append(files, filepath.Join(dir, n))
		}
	}
	for _, pat := range embedPatterns {
		pat = strings.TrimPrefix(pat, "all:")
		matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(pat)))
		if err != nil {
			return nil, fmt.Errorf("embed pattern %q in %s: %w", pat, dir, err)
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, fmt.Errorf("embedded file %s: %w", m, err)
			}
			if !st.IsDir() {
				files = append(files, m)
				continue
			}
			err = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("embedded directory %s: %w", m, err)
			}
		}
	}
	return files, nil
}

// treeGoFiles returns every non-test .go file, go.mod and go.sum below dir.
func treeGoFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := d.Name()
		if d.IsDir() {
			if p != dir && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(n) == ".go" && !strings.HasSuffix(n, "_test.go") || compiledExt[filepath.Ext(n)] || n == "go.mod" || n == "go.sum" {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

func hashBytes(h io.Writer, name string, b []byte) {
	fmt.Fprintf(h, "file %s %d\n", name, len(b))
	_, _ = h.Write(b)
	_, _ = io.WriteString(h, "\n")
}

// hashFileIfExists hashes the file at full under the name given and its
// content; a missing file hashes as absent, so creating it changes the key.
func hashFileIfExists(h io.Writer, full, name string) error {
	b, err := os.ReadFile(full)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(h, "absent %s\n", name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("hash %s: %w", full, err)
	}
	hashBytes(h, name, b)
	return nil
}
