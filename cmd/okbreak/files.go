package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/okbreak/okbreak/harness/stack"
)

// writeFiles writes generated files below dir, creating folders as needed.
func writeFiles(dir string, files map[string][]byte) error {
	for _, p := range stack.ComposePaths(files) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", full, err)
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", full, err)
		}
		fmt.Println("wrote", full)
	}
	return nil
}
