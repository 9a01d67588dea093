package controlplane

import (
	"github.com/okbreak/okbreak/internal/controlplane/translate"
)

// This file is the test switch on-etcd-loss=clear (EtcdLossClear): a control
// plane without a cache, which okbreak's regression tests run to show that
// the catalog catches a control plane that forgets its config when etcd goes
// away. The normal control plane (EtcdLossKeep) never takes this path.

// serveEmpty gives every known node a snapshot with no resources, as if the
// registry read from an unreachable etcd were empty. The checkLoop calls it
// on every failed check, so that a registry read that raced with the outage
// cannot leave the old config served; it acts once per outage. setRegistry
// ends it at the next successful read. Nothing is served before the first
// read, and that stays so.
func (s *Server) serveEmpty(checkErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.servingEmpty || s.reg == nil {
		return
	}
	s.servingEmpty = true
	s.m.servingEmpty.Set(1)
	s.log.Warn("on-etcd-loss=clear: serving an empty config", "reason", "etcd unreachable",
		"err", checkErr, "nodes", len(s.nodes))
	s.publishAllLocked()
}

// emptyResources is a snapshot content with every type present and no
// resource. Its versions are content hashes like any other (those of empty
// sets), so they differ from every non-empty snapshot's and the cache pushes
// the deletion to every subscriber.
func emptyResources() translate.Resources {
	res := translate.Resources{}
	for _, typ := range translate.Types {
		res[typ] = nil
	}
	return res
}
