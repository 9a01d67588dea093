package fault

import (
	"fmt"
	"time"
)

func init() {
	registerToxic("reset_peer", "resets each connection (TCP RST) once data flows, after timeout",
		[]string{"timeout"},
		func(p *params) (map[string]any, string) {
			d := p.millis("timeout", 0, false)
			return map[string]any{"timeout": d}, fmt.Sprintf("reset_peer after %s", time.Duration(d)*time.Millisecond)
		})
}
