package fault

import "fmt"

func init() {
	registerToxic("limit_data", "closes each connection once bytes have gone through",
		[]string{"bytes"},
		func(p *params) (map[string]any, string) {
			n := p.integer("bytes", 0, 0, 1<<62, true)
			return map[string]any{"bytes": n}, fmt.Sprintf("limit_data %d bytes", n)
		})
}
