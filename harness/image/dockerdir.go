package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// folderFiles lists the regular files under dir, sorted (WalkDir's order),
// as slash paths relative to dir. A folder without a Dockerfile is refused
// here, before the engine says it less clearly.
func folderFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read build folder %s: %w", dir, err)
	}
	for _, f := range files {
		if f == "Dockerfile" {
			return files, nil
		}
	}
	return nil, fmt.Errorf("build folder %s holds no Dockerfile", dir)
}

// dirKey is the cache key of an image built from a Dockerfile folder: every
// file's path and content. A base image that moves under the same tag is
// not seen (as `docker build` with its cache would not see it either).
func dirKey(dir string, name Name) (string, error) {
	files, err := folderFiles(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "okbreak dockerfile image v1\nname=%s\n", name)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return "", fmt.Errorf("read %s: %w", f, err)
		}
		hashBytes(h, f, b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// dirContext is the folder as a docker build context, with fixed times so
// that the same folder gives the same context.
func dirContext(dir string) (*bytes.Buffer, error) {
	files, err := folderFiles(dir)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		full := filepath.Join(dir, filepath.FromSlash(f))
		b, err := os.ReadFile(full)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		st, err := os.Stat(full)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", f, err)
		}
		hdr := &tar.Header{Name: f, Mode: int64(st.Mode().Perm()), Size: int64(len(b)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f, err)
		}
		if _, err := tw.Write(b); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close build context: %w", err)
	}
	return &buf, nil
}
