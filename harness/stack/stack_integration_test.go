package stack_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	"gopkg.in/yaml.v3"

	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/internal/registry"
	"github.com/okbreak/okbreak/sample"
)

// collect sends n requests through client->edge and counts answers by
// instance; failures are counted under "error: <reason>".
func collect(ctx context.Context, t *testing.T, s *stack.Stack, n int) map[string]int {
	t.Helper()
	edge, err := s.EntryURL(ctx)
	require.NoError(t, err)
	hc := &http.Client{Timeout: 3 * time.Second}
	defer hc.CloseIdleConnections()
	got := map[string]int{}
	for range n {
		a, err := stack.Get(ctx, hc, edge, s.Def.Entry)
		switch {
		case err != nil:
			got["error: "+err.Error()]++
		default:
			got[a.Instance]++
		}
	}
	return got
}

func TestDefaultStackOnGRPCDataPlane(t *testing.T) {
	stacktest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var runID string
	t.Run("lifecycle", func(t *testing.T) {
		s := stacktest.Up(t, ctx, stack.GRPC)
		runID = s.RunID

		t.Run("all three backends answer through client->edge", func(t *testing.T) {
			got := collect(ctx, t, s, 60)
			require.Equal(t, 60, got["backend-1"]+got["backend-2"]+got["backend-3"], "answers: %v", got)
			for _, b := range s.Def.Entry.Instances {
				require.Positive(t, got[b], "%s never answered: %v", b, got)
			}
		})

		t.Run("every published port is bound to 127.0.0.1", func(t *testing.T) {
			for _, name := range s.Def.ComponentNames() {
				ctr, err := s.Container(name)
				require.NoError(t, err)
				ins, err := ctr.Inspect(ctx)
				require.NoError(t, err)
				require.NotEmpty(t, ins.HostConfig.PortBindings, "%s publishes no port", name)
				for port, bindings := range ins.NetworkSettings.Ports {
					for _, b := range bindings {
						require.Equal(t, "127.0.0.1", b.HostIP.String(), "%s port %s is published on %s", name, port, b.HostIP)
					}
				}
				require.Equal(t, "unless-stopped", string(ins.HostConfig.RestartPolicy.Name), "%s restart policy", name)
			}
		})

		t.Run("a registry change in etcd is followed by traffic", func(t *testing.T) {
			cli, err := s.Etcd(ctx)
			require.NoError(t, err)
			defer cli.Close()
			_, err = cli.Delete(ctx, registry.EndpointKey(registry.BackendService, "backend-3"))
			require.NoError(t, err)
			// Once the control plane has pushed the change, 30 requests in a
			// row must all avoid backend-3 and still succeed.
			err = retry.Until(ctx, "traffic to leave backend-3", 20*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
				got := collect(ctx, t, s, 30)
				if got["backend-3"] > 0 || got["backend-1"]+got["backend-2"] != 30 {
					return fmt.Errorf("answers: %v", got)
				}
				return nil
			})
			require.NoError(t, err)
		})

		t.Run("traffic continues on the last config with the control plane stopped", func(t *testing.T) {
			ctr, err := s.Container(sample.ControlPlane)
			require.NoError(t, err)
			stopTimeout := 5 * time.Second
			require.NoError(t, ctr.Stop(ctx, &stopTimeout))
			st, err := ctr.State(ctx)
			require.NoError(t, err)
			require.False(t, st.Running, "control plane still running")
			got := collect(ctx, t, s, 60)
			require.Equal(t, 60, got["backend-1"]+got["backend-2"], "answers with the control plane down: %v", got)
		})
	})

	t.Run("teardown leaves nothing of the run", func(t *testing.T) {
		require.NotEmpty(t, runID)
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		require.NoError(t, err)
		defer cli.Close()
		f := client.Filters{}.Add("label", stack.LabelRun+"="+runID)
		ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		require.NoError(t, err)
		var names []string
		for _, c := range ctrs.Items {
			names = append(names, strings.Join(c.Names, ","))
		}
		require.Empty(t, names, "containers left by run %s", runID)
		nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		require.NoError(t, err)
		require.Empty(t, nets.Items, "networks left by run %s", runID)
	})
}

func TestComposeFileIsGeneratedFromTheDefinition(t *testing.T) {
	rendering, err := sample.Rendering(stack.GRPC)
	require.NoError(t, err)
	files, err := rendering.ComposeFiles()
	require.NoError(t, err)
	for _, p := range stack.ComposePaths(files) {
		onDisk, err := os.ReadFile("../../" + p)
		require.NoError(t, err, "%s is missing: run `make compose`", p)
		require.Equal(t, string(files[p]), string(onDisk), "%s is stale: run `make compose`", p)
	}
	var doc struct {
		Services map[string]struct {
			Ports []string `yaml:"ports"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(files["docker-compose.yml"], &doc))
	require.Len(t, doc.Services, len(rendering.Components)+1, "every component plus the registry seed")
	for name, svc := range doc.Services {
		for _, p := range svc.Ports {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "service %s publishes %q beyond loopback", name, p)
		}
	}
	// The one Toxiproxy holds every callee's name and carries client->edge.
	require.Contains(t, doc.Services[stack.Toxiproxy].Ports, "127.0.0.1:8080:8080", "client->edge has a fixed game-day port")
}
