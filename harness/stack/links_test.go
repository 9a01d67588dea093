package stack

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestEstablishedByLocalPort(t *testing.T) {
	tcp := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:2710 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0300110A:2710 0100110A:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0300110A:2710 0100110A:C352 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0300110A:E1A4 0500110A:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
   4: 0300110A:2711 0100110A:C354 06 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 20 4 30 10 -1
`)
	got := establishedByLocalPort(tcp)
	if got[10000] != 2 || got[10001] != 0 || got[0xE1A4] != 1 {
		t.Fatalf("establishedByLocalPort = %v: want 2 on 10000 (the listener itself and a TIME_WAIT are not connections)", got)
	}
}

// TestRestartPolicyAsDockerTakesIt: Compose's "on-failure:3" is a policy
// and a retry limit for Docker, which refuses it as a name.
func TestRestartPolicyAsDockerTakesIt(t *testing.T) {
	for in, want := range map[RestartPolicy]container.RestartPolicy{
		"on-failure:3":   {Name: "on-failure", MaximumRetryCount: 3},
		"unless-stopped": {Name: "unless-stopped"},
		"no":             {Name: "no"},
	} {
		if got := in.docker(); got != want {
			t.Errorf("%s: got %+v, want %+v", in, got, want)
		}
		if back := restartOf(in.docker()); back != in {
			t.Errorf("%s: read back from Docker as %s", in, back)
		}
	}
}
