package fault

import (
	"fmt"
	"time"
)

func init() {
	registerToxic("latency", "delays every chunk of data on a link by latency ± jitter",
		[]string{"latency", "jitter"},
		func(p *params) (map[string]any, string) {
			lat := p.millis("latency", 0, true)
			jit := p.millis("jitter", 0, false)
			return map[string]any{"latency": lat, "jitter": jit},
				fmt.Sprintf("latency %s (jitter %s)", time.Duration(lat)*time.Millisecond, time.Duration(jit)*time.Millisecond)
		})
}
