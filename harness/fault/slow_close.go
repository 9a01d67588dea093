package fault

import (
	"fmt"
	"time"
)

func init() {
	registerToxic("slow_close", "delays the closing of each connection by delay",
		[]string{"delay"},
		func(p *params) (map[string]any, string) {
			d := p.millis("delay", 0, true)
			return map[string]any{"delay": d}, fmt.Sprintf("slow_close %s", time.Duration(d)*time.Millisecond)
		})
}
