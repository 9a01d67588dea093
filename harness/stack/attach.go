package stack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/okbreak/okbreak/harness/image"
)

// LabelFault marks a container that a fault created (a second instance, or
// a component recreated with a broken config) with the ID of the injection,
// so that recovery can tell it from the component's own container.
const LabelFault = "okbreak.fault"

var (
	dockerMu  sync.Mutex
	dockerCli *client.Client
)

// Docker returns a Docker client shared by the whole process, reached the
// way testcontainers-go reaches the engine. It is created on first use and
// never closed; it is safe for concurrent use.
func Docker(ctx context.Context) (*client.Client, error) {
	dockerMu.Lock()
	defer dockerMu.Unlock()
	if dockerCli != nil {
		return dockerCli, nil
	}
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker client (is the engine running? `docker info` must answer): %w", err)
	}
	dockerCli = dc.Client
	return dockerCli, nil
}

// CloseIdleConnections closes the idle connections of the shared Docker
// client (Docker), if there is one yet; it stays usable. A test that counts
// the process's file descriptors calls it first, so that the count does not
// depend on how many connections the pool happens to keep.
func CloseIdleConnections() {
	dockerMu.Lock()
	cli := dockerCli
	dockerMu.Unlock()
	if cli != nil {
		_ = cli.Close() // closes idle connections only: the client stays usable
	}
}

// RunContainers lists every container labelled with the run, running or
// not, sorted by name.
func RunContainers(ctx context.Context, runID string) ([]ContainerInfo, error) {
	cli, err := Docker(ctx)
	if err != nil {
		return nil, err
	}
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelRun+"="+runID)})
	if err != nil {
		return nil, fmt.Errorf("list containers of run %s: %w", runID, err)
	}
	var out []ContainerInfo
	for _, c := range res.Items {
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, ContainerInfo{ID: c.ID, Name: name, Image: c.Image, State: string(c.State), Labels: c.Labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ContainerInfo is one container of a run as Docker lists it.
type ContainerInfo struct {
	ID    string
	Name  string
	Image string
	// State is Docker's state: created, running, paused, restarting,
	// exited, dead.
	State  string
	Labels map[string]string
}

// Component is the stack component the container plays ("" for none).
func (c ContainerInfo) Component() string { return c.Labels[LabelComponent] }

// FaultID is the injection that created the container ("" for the stack's
// own containers).
func (c ContainerInfo) FaultID() string { return c.Labels[LabelFault] }

// Runs lists the IDs of every okbreak run that has a container or network on
// this engine, sorted.
func Runs(ctx context.Context) ([]string, error) {
	cli, err := Docker(ctx)
	if err != nil {
		return nil, err
	}
	f := client.Filters{}.Add("label", LabelOkbreak+"=true")
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list okbreak containers: %w", err)
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list okbreak networks: %w", err)
	}
	seen := map[string]bool{}
	for _, c := range ctrs.Items {
		seen[c.Labels[LabelRun]] = true
	}
	for _, n := range nets.Items {
		seen[n.Labels[LabelRun]] = true
	}
	var runs []string
	for r := range seen {
		if r != "" {
			runs = append(runs, r)
		}
	}
	sort.Strings(runs)
	return runs, nil
}

// Attach rebuilds a handle on a running stack from its labelled containers,
// so that another process (a fault injector, `okbreak recover`, `okbreak
// inject` next to `okbreak up`) can work on a stack it did not start. def
// must be the definition the stack was brought up from: every component of
// it must have a container in the run. Down on an attached stack removes the
// run's containers and network like Down on the original.
func Attach(ctx context.Context, runID string, def Definition, opts ...Option) (*Stack, error) {
	o := options{runID: runID, logf: func(string, ...any) {}, readyAfter: 60 * time.Second}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("attach options: %w", err)
		}
	}
	s := &Stack{
		Def: def, RunID: runID, logf: o.logf, timeout: o.readyAfter,
		containers: map[string]*testcontainers.DockerContainer{},
		Images:     map[image.Name]image.Image{},
	}
	cli, err := Docker(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range def.Components {
		if err := s.Refresh(ctx, c.Name); err != nil {
			return nil, fmt.Errorf("attach run %s: %w", runID, err)
		}
		ctr, _ := s.Container(c.Name)
		if _, ok := s.Images[c.Image]; !ok {
			s.Images[c.Image] = image.Image{Ref: ctr.Image}
		}
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", LabelRun+"="+runID)})
	if err != nil {
		return nil, fmt.Errorf("attach run %s: list networks: %w", runID, err)
	}
	if len(nets.Items) != 1 {
		return nil, fmt.Errorf("attach run %s: want one network labelled with the run, found %d", runID, len(nets.Items))
	}
	s.attachedNet = nets.Items[0].ID
	return s, nil
}

// Refresh looks a component's container up again by its name. Call it after
// anything replaced the container (a fault that recreates it), so that
// Container, HostAddr and Down use the new one.
func (s *Stack) Refresh(ctx context.Context, component string) error {
	if _, ok := s.Def.Component(component); !ok {
		return fmt.Errorf("no component %q: want one of %s", component, strings.Join(s.Def.ComponentNames(), ", "))
	}
	cli, err := Docker(ctx)
	if err != nil {
		return err
	}
	name := ContainerName(s.RunID, component)
	// The name filter matches substrings: keep the exact name only.
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		return fmt.Errorf("find container %s: %w", name, err)
	}
	for _, c := range res.Items {
		if len(c.Names) == 0 || strings.TrimPrefix(c.Names[0], "/") != name {
			continue
		}
		p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
		if err != nil {
			return fmt.Errorf("docker provider: %w", err)
		}
		ctr, err := p.ContainerFromType(ctx, c)
		if err != nil {
			return fmt.Errorf("container %s: %w", name, err)
		}
		s.mu.Lock()
		s.containers[component] = ctr
		s.mu.Unlock()
		return nil
	}
	return fmt.Errorf("no container named %s (component %s of run %s)", name, component, s.RunID)
}

// Definition returns the definition the stack runs (Def), for code that
// sees the stack through an interface.
func (s *Stack) Definition() Definition { return s.Def }

// Run returns the run ID (RunID), for code that sees the stack through an
// interface.
func (s *Stack) Run() string { return s.RunID }

// removeLeftovers removes every container of the run that Down did not know
// about (a fault's second instance, say), and the network of an attached
// stack. Containers must be gone before their network can be removed.
func (s *Stack) removeLeftovers(ctx context.Context, netID string) error {
	cli, err := Docker(ctx)
	if err != nil {
		return err
	}
	ctrs, err := RunContainers(ctx, s.RunID)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range ctrs {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.Name, err))
		}
	}
	if netID != "" {
		if _, err := cli.NetworkRemove(ctx, netID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", netID, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveRun removes every container and network labelled with the run,
// whoever owns them: `okbreak down` of a long-lived stack whose keeper is
// gone, without its definition. It is idempotent.
func RemoveRun(ctx context.Context, runID string) error {
	cli, err := Docker(ctx)
	if err != nil {
		return err
	}
	s := &Stack{RunID: runID}
	if err := s.removeLeftovers(ctx, ""); err != nil {
		return err
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", LabelRun+"="+runID)})
	if err != nil {
		return fmt.Errorf("list networks of run %s: %w", runID, err)
	}
	var errs []error
	for _, n := range nets.Items {
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}
