package alert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPagesDuringUsesTheCatalogsPageLabel(t *testing.T) {
	t0 := time.Unix(1000, 0)
	fire := func(name, severity string, at time.Duration, extra ...string) Transition {
		l := map[string]string{"alertname": name, "severity": severity}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return Transition{Alert: name, Severity: severity, Instance: `{alertname="` + name + `"}`, Labels: l, From: StatePending, To: StateFiring, At: t0.Add(at)}
	}
	tl := Timeline{
		{Alert: "KubePodCrashLooping", To: StateInactive, At: t0}, // first evaluation: no labels
		fire("KubePodCrashLooping", "critical", 2*time.Second, "team", "platform"),
		fire("EtcdUnreachable", "warning", 3*time.Second),
		fire("DataPlaneDown", "page", 4*time.Second),
		fire("Late", "critical", 20*time.Second),
	}
	assert.Equal(t, []string{"KubePodCrashLooping"}, tl.PagesDuring(t0, t0.Add(10*time.Second), map[string]string{"severity": "critical"}),
		"kube-prometheus style: critical pages")
	assert.Equal(t, []string{"DataPlaneDown"}, tl.PagesDuring(t0, t0.Add(10*time.Second), map[string]string{"severity": "page"}))
	assert.Equal(t, []string{"KubePodCrashLooping"}, tl.PagesDuring(t0, t0.Add(10*time.Second), map[string]string{"severity": "critical", "team": "platform"}),
		"every page label must match")
	assert.Empty(t, tl.PagesDuring(t0, t0.Add(10*time.Second), map[string]string{"severity": "critical", "team": "db"}))
	assert.Equal(t, []string{"KubePodCrashLooping"}, tl.PagesDuring(t0.Add(5*time.Second), t0.Add(6*time.Second), map[string]string{"severity": "critical"}),
		"already firing when the window opens")
}
