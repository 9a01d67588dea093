package fault

import (
	"fmt"
	"time"
)

func init() {
	registerToxic("slicer", "slices data into pieces of average_size ± size_variation bytes, delay apart",
		[]string{"average_size", "size_variation", "delay"},
		func(p *params) (map[string]any, string) {
			avg := p.integer("average_size", 0, 1, 1<<30, true)
			vari := p.integer("size_variation", 0, 0, 1<<30, false)
			if vari >= avg && avg > 0 {
				p.fail("param size_variation: %d must be smaller than average_size %d", vari, avg)
			}
			delay := p.duration("delay", 0, false)
			if delay%time.Microsecond != 0 {
				p.fail("param delay: %s is not a whole number of microseconds", delay)
			}
			us := delay.Microseconds()
			return map[string]any{"average_size": avg, "size_variation": vari, "delay": us},
				fmt.Sprintf("slicer %d±%d bytes every %s", avg, vari, delay)
		})
}
