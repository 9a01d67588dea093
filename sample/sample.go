// Package sample is okbreak's sample system under test: its own sample
// service (backends and a gRPC proxyless xDS frontend), its own control
// plane fed from a registry in etcd, or Envoy as the data plane. It is one
// implementation of the system under test, not an assumption of the
// harness: the system is the stack file fixtures/stacks/default/stack.yaml
// (embedded), read like any team's; Definition adds the sample's own answer
// check, and this package registers the fault types that only make sense
// on its registry (route_to_other, rejected_resource, empty_endpoints).
package sample

import (
	"context"
	"fmt"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/internal/registry"
)

// Names of the sample system: its services (containers) and the links of
// its stack file.
const (
	Etcd         = stack.Etcd
	ControlPlane = "control-plane"
	Edge         = "edge"

	LinkClientEdge = "client->edge"
	LinkEdgeXDS    = "edge->xds"
	LinkXDSEtcd    = "xds->etcd"
)

// StackFiles are the stack file and overlays of the sample system for a
// data plane, as paths in fixtures.FS: stack.yaml (gRPC), plus envoy.yaml
// for Envoy, read as `docker compose -f stack.yaml -f envoy.yaml` would.
func StackFiles(dp stack.DataPlane) ([]string, error) {
	switch dp {
	case stack.GRPC, "":
		return []string{fixtures.DefaultStack}, nil
	case stack.Envoy:
		return []string{fixtures.DefaultStack, fixtures.EnvoyOverlay}, nil
	}
	return nil, fmt.Errorf("data plane %q: want %s or %s", dp, stack.GRPC, stack.Envoy)
}

// StackFile reads the sample system's stack file for a data plane from the
// binary. No variable is set: ${OKBREAK_ENVOY_IMAGE:-...} takes its default,
// which the image resolver maps to the Envoy image it resolves (and
// overrides) itself.
func StackFile(ctx context.Context, dp stack.DataPlane) (*stackfile.File, error) {
	paths, err := StackFiles(dp)
	if err != nil {
		return nil, err
	}
	f, err := stackfile.LoadFiles(ctx, paths, stackfile.Options{FS: fixtures.FS()})
	if err != nil {
		return nil, fmt.Errorf("the sample system's stack file: %w", err)
	}
	return f, nil
}

// Definition returns the sample system (README, "Architecture") for a data
// plane, from its stack file: etcd, the control plane, three backend
// instances, one other instance, and the data plane as "edge", a Toxiproxy
// in front of every callee; its registry as etcd's seed, the sample's
// answer check at the entry, and the data plane's config dump as evidence.
// It panics when the embedded stack file does not load, a bug of the build
// that TestDefinitionLoads catches, or on a data plane other than grpc and
// envoy. Each call returns a new Definition the caller may change.
func Definition(dp stack.DataPlane) stack.Definition {
	d, err := definition(dp, (*stackfile.File).Definition)
	if err != nil {
		panic(err)
	}
	return d
}

// Rendering is Definition as a compose file writes it: ${VAR}s as the
// stack file wrote them (stackfile.File.Rendering).
func Rendering(dp stack.DataPlane) (stack.Definition, error) {
	return definition(dp, (*stackfile.File).Rendering)
}

func definition(dp stack.DataPlane, compile func(*stackfile.File) (stack.Definition, error)) (stack.Definition, error) {
	f, err := StackFile(context.Background(), dp)
	if err != nil {
		return stack.Definition{}, err
	}
	d, err := compile(f)
	if err != nil {
		return d, fmt.Errorf("the sample system's stack file: %w", err)
	}
	d.Source = "the sample system (fixtures/stacks/default)"
	AddAnswerCheck(&d)
	return d, nil
}

// AddAnswerCheck puts the sample's own answer check at d's entry: it tells
// a wrong service from an error and reads the frontend's failure answers,
// which the stack file's JSON check cannot. For definitions compiled from
// the sample's stack file by other means (an incident's variants).
func AddAnswerCheck(d *stack.Definition) {
	d.Entry.Check = Check(registry.BackendService)
}
