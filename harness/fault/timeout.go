package fault

import (
	"fmt"
	"time"
)

func init() {
	registerToxic("timeout", "stops all data on a link and closes each connection after timeout (0: holds it open forever)",
		[]string{"timeout"},
		func(p *params) (map[string]any, string) {
			d := p.millis("timeout", 0, false)
			what := "timeout: data held forever"
			if d > 0 {
				what = fmt.Sprintf("timeout: data stopped, connection closed after %s", time.Duration(d)*time.Millisecond)
			}
			return map[string]any{"timeout": d}, what
		})
}
