package fault

import "fmt"

func init() {
	registerToxic("bandwidth", "limits a link to rate KB/s",
		[]string{"rate"},
		func(p *params) (map[string]any, string) {
			rate := p.integer("rate", 0, 0, 1<<40, true)
			return map[string]any{"rate": rate}, fmt.Sprintf("bandwidth %d KB/s", rate)
		})
}
