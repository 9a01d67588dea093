package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Labels on everything okbreak creates. A later run uses them to find and
// sweep what a killed run left behind, and to tell whether that run is dead.
const (
	// LabelOkbreak marks every container and network okbreak creates.
	LabelOkbreak = "okbreak"
	// LabelRun names the run.
	LabelRun = "okbreak.run"
	// LabelOwnerPID, LabelOwnerStart and LabelOwnerHost identify the process
	// that owns the run: its PID, its start time in clock ticks since boot
	// (so that a reused PID is not mistaken for the owner), and its host.
	LabelOwnerPID   = "okbreak.owner.pid"
	LabelOwnerStart = "okbreak.owner.start"
	LabelOwnerHost  = "okbreak.owner.host"
	// LabelComponent names the stack component a container plays.
	LabelComponent = "okbreak.component"
	// LabelToxiproxyAPI marks a Toxiproxy that carries links, with its
	// API's container port: `okbreak recover` finds every Toxiproxy of a
	// killed run by it, without the run's definition.
	LabelToxiproxyAPI = "okbreak.toxiproxy.api"
)

// NewRunID returns a short random run ID.
func NewRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

// RunLabels returns the labels that tie a container or network to this
// process's run.
func RunLabels(runID string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		LabelOkbreak:    "true",
		LabelRun:        runID,
		LabelOwnerPID:   strconv.Itoa(os.Getpid()),
		LabelOwnerStart: processStart(os.Getpid()),
		LabelOwnerHost:  host,
	}
}

// processStart reads a process's start time (field 22 of /proc/PID/stat),
// or "" where it cannot.
func processStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces: count fields after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// OwnerAlive tells whether the process that created a labelled object is
// still running. An object from another host, or without owner labels, counts
// as alive: okbreak only sweeps what it can prove is dead.
func OwnerAlive(labels map[string]string) bool {
	host, _ := os.Hostname()
	if labels[LabelOwnerHost] != host {
		return true
	}
	pid, err := strconv.Atoi(labels[LabelOwnerPID])
	if err != nil || pid <= 0 {
		return true
	}
	start := processStart(pid)
	if start == "" || zombie(pid) {
		return false // no such process, or one killed and not yet reaped
	}
	return labels[LabelOwnerStart] == "" || start == labels[LabelOwnerStart]
}

// Swept says what Sweep removed.
type Swept struct {
	Runs       []string
	Containers []string
	Networks   []string
}

// Sweep removes the containers and networks of okbreak runs whose owning
// process is dead, except long-lived runs (MarkLongLived). Live runs, including this process's and other packages'
// concurrent test runs, are never touched. It is idempotent.
func Sweep(ctx context.Context) (Swept, error) {
	var out Swept
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return out, fmt.Errorf("sweep: docker client: %w", err)
	}
	defer cli.Close()
	filter := client.Filters{}.Add("label", LabelOkbreak+"=true")
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return out, fmt.Errorf("sweep: list containers: %w", err)
	}
	runs := map[string]bool{}
	var errs []error
	for _, c := range ctrs.Items {
		if OwnerAlive(c.Labels) || LongLived(c.Labels[LabelRun]) {
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("sweep: remove container %s: %w", c.ID[:12], err))
			continue
		}
		runs[c.Labels[LabelRun]] = true
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out.Containers = append(out.Containers, name)
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return out, errors.Join(append(errs, fmt.Errorf("sweep: list networks: %w", err))...)
	}
	for _, n := range nets.Items {
		if OwnerAlive(n.Labels) || LongLived(n.Labels[LabelRun]) {
			continue
		}
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("sweep: remove network %s: %w", n.Name, err))
			continue
		}
		runs[n.Labels[LabelRun]] = true
		out.Networks = append(out.Networks, n.Name)
	}
	for r := range runs {
		out.Runs = append(out.Runs, r)
	}
	sort.Strings(out.Runs)
	return out, errors.Join(errs...)
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(err.Error(), "not found"))
}
