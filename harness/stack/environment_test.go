package stack

import "testing"

func TestLoopbackHostIsWherePortsArePublished(t *testing.T) {
	for h, want := range map[string]bool{"127.0.0.1": true, "localhost": true, "LOCALHOST": true, "::1": false, "[::1]": false, "127.0.0.2": false, "10.0.0.1": false, "docker": false} {
		if got := loopbackHost(h); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", h, got, want)
		}
	}
}
