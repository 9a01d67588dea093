package controlplane

import (
	"context"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/internal/controlplane/translate"
	"github.com/okbreak/okbreak/internal/registry"
)

// kvEntry is one registry key as last read from etcd.
type kvEntry struct {
	value  []byte
	modRev int64
}

// etcdSync owns the control plane's copy of the registry keys. Its fields
// are used only by the sync loop's goroutine.
type etcdSync struct {
	kv map[string]kvEntry
	// badCounted holds, for each unreadable key, the revision at which it
	// was counted, so that each bad value is counted once.
	badCounted map[string]int64
	// missing is the last list of services routes use but the registry
	// lacks, to log a change once.
	missing string
}

// syncLoop reads the registry, then watches it, and starts over (re-list)
// whenever the watch fails, is compacted away, or etcd comes back after
// being unreachable. Between failed reads it waits one check interval.
func (s *Server) syncLoop(ctx context.Context, cli *clientv3.Client) {
	es := &etcdSync{badCounted: map[string]int64{}}
	var lastErr string
	for ctx.Err() == nil {
		rev, err := s.list(ctx, cli, es)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if err.Error() != lastErr {
				s.log.Warn("cannot read the registry from etcd; will retry", "err", err,
					"serving", s.synced.Load())
				lastErr = err.Error()
			}
			if !s.wait(ctx, s.cfg.EtcdCheckInterval) {
				return
			}
			continue
		}
		lastErr = ""
		s.watch(ctx, cli, es, rev)
	}
}

// wait returns after d, early on a re-list request, and false once ctx is
// done.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.relist:
		return true
	case <-t.C:
		return true
	}
}

// list reads every registry key and applies the result; it returns the
// revision to watch from.
func (s *Server) list(ctx context.Context, cli *clientv3.Client, es *etcdSync) (int64, error) {
	lctx, cancel := context.WithTimeout(ctx, s.cfg.EtcdDialTimeout)
	defer cancel()
	resp, err := cli.Get(lctx, registry.Prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	es.kv = make(map[string]kvEntry, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		es.kv[string(kv.Key)] = kvEntry{value: kv.Value, modRev: kv.ModRevision}
	}
	s.markSynced()
	s.log.Debug("registry read from etcd", "revision", resp.Header.Revision, "keys", len(resp.Kvs))
	s.apply(ctx, es)
	return resp.Header.Revision, nil
}

// watch follows registry changes from rev+1 until the watch ends, etcd asks
// for a re-list, or ctx is done.
func (s *Server) watch(ctx context.Context, cli *clientv3.Client, es *etcdSync, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := cli.Watch(wctx, registry.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	s.watchLive.Store(true)
	defer s.watchLive.Store(false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.relist:
			s.log.Info("re-reading the registry after etcd came back")
			return
		case resp, ok := <-wch:
			if !ok {
				s.log.Warn("etcd watch closed; re-reading the registry")
				return
			}
			if err := resp.Err(); err != nil {
				s.log.Warn("etcd watch failed; re-reading the registry", "err", err,
					"compact_revision", resp.CompactRevision)
				return
			}
			s.markSynced()
			if resp.IsProgressNotify() || len(resp.Events) == 0 {
				continue
			}
			for _, ev := range resp.Events {
				key := string(ev.Kv.Key)
				switch ev.Type {
				case mvccpb.PUT:
					es.kv[key] = kvEntry{value: ev.Kv.Value, modRev: ev.Kv.ModRevision}
				case mvccpb.DELETE:
					delete(es.kv, key)
				}
			}
			s.apply(ctx, es)
		}
	}
}

// apply decodes the registry keys, counts and logs the unreadable ones, and
// hands the registry to the snapshot builder.
func (s *Server) apply(ctx context.Context, es *etcdSync) {
	keys := make([]string, 0, len(es.kv))
	for k := range es.kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kvs := make([]registry.KV, 0, len(keys))
	bad := 0
	for _, k := range keys {
		e := es.kv[k]
		kv := registry.KV{Key: k, Value: e.value}
		kvs = append(kvs, kv)
		if _, errs := registry.Decode([]registry.KV{kv}); len(errs) > 0 {
			bad++
			if es.badCounted[k] != e.modRev {
				es.badCounted[k] = e.modRev
				s.m.registryErrors.Inc()
				s.log.Warn("skipping unreadable registry key; serving the rest", "key", k, "err", errs[0])
			}
		} else if _, was := es.badCounted[k]; was {
			delete(es.badCounted, k)
			s.log.Info("registry key readable again", "key", k)
		}
	}
	for k := range es.badCounted {
		if _, ok := es.kv[k]; !ok {
			delete(es.badCounted, k)
		}
	}
	s.m.registryInvalidKeys.Set(float64(bad))

	if len(es.kv) == 0 && !s.synced.Load() {
		// Most likely an etcd that has not been seeded yet (or the wrong
		// one). Serving it would tell every data plane that everything was
		// deleted; wait for the first key instead. Once serving, an emptied
		// registry is served as what it is.
		s.log.Warn("the registry in etcd is empty; serving nothing until it is written", "prefix", registry.Prefix)
		return
	}

	reg, _ := registry.Decode(kvs) // errors were reported key by key above
	if missing := translate.MissingServices(reg); strings.Join(missing, ",") != es.missing {
		es.missing = strings.Join(missing, ",")
		if len(missing) > 0 {
			s.log.Warn("routes send traffic to services the registry does not define", "services", missing)
		}
	}
	s.setRegistry(ctx, reg)
}

// checkLoop checks etcd's reachability every check interval, keeps
// etcd_reachable current, and asks for a re-list when etcd comes back (a
// watch may have silently stalled while it was away).
func (s *Server) checkLoop(ctx context.Context, cli *clientv3.Client) {
	t := time.NewTicker(s.cfg.EtcdCheckInterval)
	defer t.Stop()
	everChecked := false
	for {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.EtcdDialTimeout)
		_, err := cli.Get(cctx, registry.Prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			s.m.etcdReachable.Set(1)
			if !s.reachable.Swap(true) {
				s.log.Info("etcd reachable", "endpoints", s.cfg.EtcdEndpoints)
				if everChecked {
					select {
					case s.relist <- struct{}{}:
					default:
					}
				}
			}
			if s.watchLive.Load() {
				s.markSynced()
			}
		} else {
			s.m.etcdReachable.Set(0)
			if s.reachable.Swap(false) || !everChecked {
				s.log.Warn("etcd unreachable", "endpoints", s.cfg.EtcdEndpoints, "err", err,
					"serving_last_snapshot", s.synced.Load() && s.cfg.OnEtcdLoss == EtcdLossKeep)
			}
			if s.cfg.OnEtcdLoss == EtcdLossClear {
				s.serveEmpty(err)
			}
		}
		everChecked = true
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// markSynced records that the registry view matches etcd now.
func (s *Server) markSynced() {
	s.m.etcdLastSync.Set(float64(time.Now().UnixNano()) / 1e9)
}
