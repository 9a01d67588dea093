package stack

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/harness/retry"
)

// ContainerSpec is one container as plain data: enough to create it again
// with the Docker API alone, without the process that first started it. A
// fault that recreates a component journals the original's spec, so that
// `okbreak recover` can put it back after the injector was killed.
type ContainerSpec struct {
	// Name is the container's Docker name.
	Name       string            `json:"name"`
	Image      string            `json:"image"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        []string          `json:"env,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// Ports are the container's ports, "8080/tcp". Publish binds each on
	// 127.0.0.1 at a port Docker picks.
	Ports   []string      `json:"ports,omitempty"`
	Publish bool          `json:"publish,omitempty"`
	Restart RestartPolicy `json:"restart"`
	// Network is the network to join, with Aliases as its DNS names there.
	Network string     `json:"network"`
	Aliases []string   `json:"aliases,omitempty"`
	Files   []SpecFile `json:"files,omitempty"`
	// Ready, when set, is the HTTP check that says the container serves.
	Ready *ReadyCheck `json:"ready,omitempty"`
}

// SpecFile is a file copied into a container before it starts.
type SpecFile struct {
	Path    string `json:"path"`
	Content []byte `json:"content"`
	Mode    int64  `json:"mode"`
}

// ReadyCheck is an HTTP GET on a container port that answers 200 once the
// container serves.
type ReadyCheck struct {
	Port int    `json:"port"`
	Path string `json:"path"`
}

// SetEnv sets (or replaces) one environment variable of the spec.
func (s *ContainerSpec) SetEnv(name, value string) {
	for i, kv := range s.Env {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			s.Env[i] = name + "=" + value
			return
		}
	}
	s.Env = append(s.Env, name+"="+value)
}

// SetFile sets (or replaces) the content of one file of the spec.
func (s *ContainerSpec) SetFile(p string, content []byte) {
	for i := range s.Files {
		if s.Files[i].Path == p {
			s.Files[i].Content = content
			return
		}
	}
	s.Files = append(s.Files, SpecFile{Path: p, Content: content, Mode: 0o644})
}

// SpecOf captures the spec of a component's running container: image,
// command, environment, labels, ports, restart policy and network as Docker
// reports them, and the aliases, files and readiness check of the
// definition (Docker cannot give back file contents, and lists the
// container's short ID among its aliases).
func SpecOf(ctx context.Context, runID string, c Component) (ContainerSpec, error) {
	cli, err := Docker(ctx)
	if err != nil {
		return ContainerSpec{}, err
	}
	name := ContainerName(runID, c.Name)
	ins, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return ContainerSpec{}, fmt.Errorf("inspect %s: %w", name, err)
	}
	ctr := ins.Container
	if ctr.Config == nil || ctr.HostConfig == nil || ctr.NetworkSettings == nil {
		return ContainerSpec{}, fmt.Errorf("inspect %s: incomplete answer from Docker", name)
	}
	spec := ContainerSpec{
		Name:       name,
		Image:      ctr.Config.Image,
		Entrypoint: ctr.Config.Entrypoint,
		Cmd:        ctr.Config.Cmd,
		Env:        ctr.Config.Env,
		Labels:     ctr.Config.Labels,
		Publish:    len(ctr.HostConfig.PortBindings) > 0,
		Restart:    restartOf(ctr.HostConfig.RestartPolicy),
		Aliases:    c.Aliases,
	}
	for p := range ctr.Config.ExposedPorts {
		spec.Ports = append(spec.Ports, p.String())
	}
	for n := range ctr.NetworkSettings.Networks {
		if spec.Network != "" {
			return ContainerSpec{}, fmt.Errorf("inspect %s: on more than one network", name)
		}
		spec.Network = n
	}
	for _, f := range c.Files {
		spec.Files = append(spec.Files, SpecFile{Path: f.Path, Content: f.Content, Mode: f.Mode})
	}
	if port, ok := c.PortNumber(c.Ready.Port); ok && c.Ready.Path != "" {
		spec.Ready = &ReadyCheck{Port: port, Path: c.Ready.Path}
	}
	return spec, nil
}

// restartOf is Docker's policy as a RestartPolicy ("on-failure:3" when it
// has a retry limit).
func restartOf(p container.RestartPolicy) RestartPolicy {
	if p.MaximumRetryCount > 0 {
		return RestartPolicy(fmt.Sprintf("%s:%d", p.Name, p.MaximumRetryCount))
	}
	return RestartPolicy(p.Name)
}

// CreateContainer creates a container from spec, copies its files in and
// starts it. It does not wait for readiness (see WaitReady). On error after
// creation the container is removed again.
func CreateContainer(ctx context.Context, spec ContainerSpec) (id string, err error) {
	cli, err := Docker(ctx)
	if err != nil {
		return "", err
	}
	cfg := &container.Config{
		Image: spec.Image, Entrypoint: spec.Entrypoint, Cmd: spec.Cmd, Env: spec.Env, Labels: spec.Labels,
		ExposedPorts: mobynet.PortSet{},
	}
	hc := &container.HostConfig{
		RestartPolicy: spec.Restart.docker(),
		PortBindings:  mobynet.PortMap{},
	}
	for _, p := range spec.Ports {
		port, err := mobynet.ParsePort(p)
		if err != nil {
			return "", fmt.Errorf("create %s: port %q: %w", spec.Name, p, err)
		}
		cfg.ExposedPorts[port] = struct{}{}
		if spec.Publish {
			// Loopback only, as Up does.
			hc.PortBindings[port] = []mobynet.PortBinding{{HostIP: Loopback, HostPort: "0"}}
		}
	}
	var nc *mobynet.NetworkingConfig
	if spec.Network != "" {
		nc = &mobynet.NetworkingConfig{EndpointsConfig: map[string]*mobynet.EndpointSettings{
			spec.Network: {Aliases: spec.Aliases},
		}}
	}
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: spec.Name, Config: cfg, HostConfig: hc, NetworkingConfig: nc})
	if err != nil {
		return "", fmt.Errorf("create %s: %w", spec.Name, err)
	}
	defer func() {
		if err != nil {
			_, _ = cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
		}
	}()
	if len(spec.Files) > 0 {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, f := range spec.Files {
			// Parent folders first: a scratch image has none of them.
			dirs := strings.Split(strings.TrimPrefix(path.Dir(f.Path), "/"), "/")
			for i := range dirs {
				if dirs[i] == "" || dirs[i] == "." {
					continue
				}
				_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.Join(dirs[:i+1], "/") + "/", Mode: 0o755})
			}
			mode := f.Mode
			if mode == 0 {
				mode = 0o644
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.Path, "/"), Mode: mode, Size: int64(len(f.Content))}); err != nil {
				return "", fmt.Errorf("create %s: tar %s: %w", spec.Name, f.Path, err)
			}
			if _, err := tw.Write(f.Content); err != nil {
				return "", fmt.Errorf("create %s: tar %s: %w", spec.Name, f.Path, err)
			}
		}
		if err := tw.Close(); err != nil {
			return "", fmt.Errorf("create %s: tar: %w", spec.Name, err)
		}
		if _, err := cli.CopyToContainer(ctx, res.ID, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf}); err != nil {
			return "", fmt.Errorf("create %s: copy files: %w", spec.Name, err)
		}
	}
	if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return "", fmt.Errorf("start %s: %w", spec.Name, err)
	}
	return res.ID, nil
}

// RemoveContainer removes a container by name or ID, running or not. A
// container that is already gone counts as removed.
func RemoveContainer(ctx context.Context, nameOrID string) error {
	cli, err := Docker(ctx)
	if err != nil {
		return err
	}
	if _, err := cli.ContainerRemove(ctx, nameOrID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove %s: %w", nameOrID, err)
	}
	return nil
}

// IsNotFound tells whether a Docker error says the object does not exist.
func IsNotFound(err error) bool { return isNotFound(err) }

// Inspect returns Docker's view of a container by name or ID.
func Inspect(ctx context.Context, nameOrID string) (container.InspectResponse, error) {
	cli, err := Docker(ctx)
	if err != nil {
		return container.InspectResponse{}, err
	}
	res, err := cli.ContainerInspect(ctx, nameOrID, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, fmt.Errorf("inspect %s: %w", nameOrID, err)
	}
	return res.Container, nil
}

// PublishedAddr returns "127.0.0.1:<port>" where the host reaches a
// container's TCP port, asking Docker (a published port changes when the
// container restarts).
func PublishedAddr(ctx context.Context, nameOrID string, port int) (string, error) {
	ctr, err := Inspect(ctx, nameOrID)
	if err != nil {
		return "", err
	}
	if ctr.NetworkSettings != nil {
		for p, bindings := range ctr.NetworkSettings.Ports {
			if int(p.Num()) != port || string(p.Proto()) != "tcp" {
				continue
			}
			for _, b := range bindings {
				if b.HostPort != "" {
					hp, err := strconv.Atoi(b.HostPort)
					if err != nil {
						return "", fmt.Errorf("%s port %d: host port %q: %w", nameOrID, port, b.HostPort, err)
					}
					return netip.AddrPortFrom(Loopback, uint16(hp)).String(), nil
				}
			}
		}
	}
	return "", fmt.Errorf("%s publishes no host port for %d/tcp (is it running?)", nameOrID, port)
}

// WaitReady waits until a container runs and its readiness check answers
// 200, for at most timeout. A nil check waits for "running" only.
func WaitReady(ctx context.Context, nameOrID string, check *ReadyCheck, timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	return retry.Until(ctx, "container "+nameOrID+" ready", timeout, 50*time.Millisecond, func(ctx context.Context) error {
		ctr, err := Inspect(ctx, nameOrID)
		if err != nil {
			return err
		}
		if ctr.State == nil || !ctr.State.Running || ctr.State.Paused || ctr.State.Restarting {
			return fmt.Errorf("not running: %s", describeState(ctr.State))
		}
		if check == nil {
			return nil
		}
		addr, err := PublishedAddr(ctx, nameOrID, check.Port)
		if err != nil {
			return err
		}
		if err := get200(ctx, hc, "http://"+addr+check.Path); err != nil {
			return fmt.Errorf("%s: %w", check.Path, err)
		}
		return nil
	})
}

func describeState(st *container.State) string {
	if st == nil {
		return "unknown"
	}
	return fmt.Sprintf("%s (exit code %d, restarting %t)", st.Status, st.ExitCode, st.Restarting)
}

// MainPID returns the host PID of a running container's main process, after
// checking that this process can see it and that it is that container's
// (its cgroup names the container): signalling a PID of another PID
// namespace would hit an unrelated process.
func MainPID(ctx context.Context, nameOrID string) (int, error) {
	ctr, err := Inspect(ctx, nameOrID)
	if err != nil {
		return 0, err
	}
	if ctr.State == nil || !ctr.State.Running || ctr.State.Pid <= 0 {
		return 0, fmt.Errorf("%s is not running (%s): no main process", nameOrID, describeState(ctr.State))
	}
	pid := ctr.State.Pid
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return 0, fmt.Errorf("the main process of %s (PID %d on the engine's host) is not visible here: "+
			"a crash from outside the container needs okbreak on the Docker engine's host, in its PID namespace, as root (%w)", nameOrID, pid, err)
	}
	if !strings.Contains(string(cg), ctr.ID) {
		return 0, fmt.Errorf("PID %d here is not the main process of %s (its cgroup does not name the container): "+
			"okbreak runs in another PID namespace than the Docker engine, and a crash from outside the container cannot be sent", pid, nameOrID)
	}
	return pid, nil
}
