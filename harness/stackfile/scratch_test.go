package stackfile

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

func TestScratch(t *testing.T) {
	path := os.Getenv("SCRATCH")
	data, _ := os.ReadFile(path)
	for _, skip := range []bool{false, true} {
		p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
			WorkingDir:  "/tmp/exp",
			ConfigFiles: []types.ConfigFile{{Filename: "stack.yaml", Content: data}},
			Environment: map[string]string{"PASS": "secret"},
		}, func(o *loader.Options) {
			o.SkipInterpolation = skip
			o.ResolvePaths = !skip
			o.Profiles = []string{"*"}
		})
		if err != nil {
			fmt.Println("ERR", err)
			continue
		}
		b, _ := json.MarshalIndent(p, "", " ")
		fmt.Println(string(b))
	}
}
