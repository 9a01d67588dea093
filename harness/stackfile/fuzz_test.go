package stackfile

import (
	"context"
	"errors"
	"testing"
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
