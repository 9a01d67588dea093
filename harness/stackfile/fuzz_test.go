package stackfile

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"testing/fstest"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic, and every
// failure must be Errors whose entries point into the file and say how to
// fix it. The seed corpus (testdata/fuzz/FuzzParse, which plain `go test`
// runs) holds the ok files and the shapes that once troubled the parser.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(context.Background(), "fuzz.yaml", data, Options{
			Dir: "testdata/ok",
			Env: map[string]string{"LOG_LEVEL": "debug", "HOME": "/home/dev"},
		})
		if err == nil {
			if file == nil || len(file.Services) == 0 || len(file.Links) == 0 || len(file.Raw) != len(file.Services) {
				t.Fatalf("no error, but file %+v", file)
			}
			return
		}
		if file != nil {
			t.Fatalf("a File with errors: %v", err)
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %T %v is not Errors", err, err)
		}
		for _, e := range es {
			if e.Line < 1 || e.Col < 1 || e.File != "fuzz.yaml" || e.Msg == "" || e.Fix == "" {
				t.Fatalf("bad problem %#v", e)
			}
		}
	})
}

// FuzzLoadFiles feeds LoadFiles a base and an overlay, read from an FS
// that also holds testdata/ok (whose files they may name): neither the
// walks, nor compose-go's merge, nor the x-okbreak merge may panic, and
// every failure must be Errors whose entries name one of the two files, at
// a position, with a fix. The seed corpus is testdata/fuzz/FuzzLoadFiles.
func FuzzLoadFiles(f *testing.F) {
	fsys := copyFS(f, "testdata/ok")
	names := []string{"testdata/ok/base.yaml", "testdata/ok/over.yaml"}
	f.Fuzz(func(t *testing.T, base, overlay []byte) {
		m := maps.Clone(fsys)
		m[names[0]] = &fstest.MapFile{Data: base}
		m[names[1]] = &fstest.MapFile{Data: overlay}
		file, err := LoadFiles(context.Background(), names, Options{
			FS:  m,
			Env: map[string]string{"LOG_LEVEL": "debug", "HOME": "/home/dev"},
		})
		if err == nil {
			if file == nil || len(file.Services) == 0 || len(file.Links) == 0 || len(file.Raw) != len(file.Services) || !slices.Equal(file.Paths, names) {
				t.Fatalf("no error, but file %+v", file)
			}
			return
		}
		if file != nil {
			t.Fatalf("a File with errors: %v", err)
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %T %v is not Errors", err, err)
		}
		for _, e := range es {
			if e.Line < 1 || e.Col < 1 || !slices.Contains(names, e.File) || e.Msg == "" || e.Fix == "" {
				t.Fatalf("bad problem %#v", e)
			}
		}
	})
}
