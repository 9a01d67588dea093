package fault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
)

// ReadyTimeout bounds each wait for a container to run (and serve) again
// when a fault is reverted.
var ReadyTimeout = 60 * time.Second

// ErrConflict marks an etcd key that changed since a config fault wrote it:
// revert leaves it alone rather than overwrite someone else's value.
var ErrConflict = errors.New("changed since the fault wrote it")

// executor carries out undo steps. With an Env it uses the live stack's
// handles; without one (recovery from the journal alone) it finds
// Toxiproxy and etcd through Docker by the container names the journal
// holds. Safe for concurrent use.
type executor struct {
	env    Env
	access Access

	mu   sync.Mutex
	toxi map[string]*toxiproxy // by link
}

// toxiproxy is a client of the Toxiproxy that carries link: through the
// live system when there is one, else found again through Docker by the
// container the journal names.
func (x *executor) toxiproxy(link string) *toxiproxy {
	x.mu.Lock()
	defer x.mu.Unlock()
	if tp, ok := x.toxi[link]; ok {
		return tp
	}
	if x.toxi == nil {
		x.toxi = map[string]*toxiproxy{}
	}
	ep := x.access.Toxiproxies[link]
	if ep == nil {
		ep = x.access.Toxiproxy // a journal of the one-Toxiproxy days
	}
	tp := newToxiproxy(func(ctx context.Context) (string, error) {
		if te, ok := x.env.(ToxiproxyEnv); ok {
			if l, ok := te.Definition().Link(link); ok {
				return te.ToxiproxyAPI(ctx, l.ProxyComponent())
			}
		}
		if ep == nil {
			return "", fmt.Errorf("the journal says nothing of the Toxiproxy that carries %s", link)
		}
		if ep.URL != "" {
			return ep.URL, nil
		}
		addr, err := stack.PublishedAddr(ctx, ep.Container, ep.Port)
		if err != nil {
			return "", err
		}
		return "http://" + addr, nil
	})
	x.toxi[link] = tp
	return tp
}

// closeIdle closes the idle connections of the executor's Toxiproxy
// clients (they stay usable): called once its fault is reverted.
func (x *executor) closeIdle() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, tp := range x.toxi {
		tp.closeIdle()
	}
}

// proxyName is the Toxiproxy proxy that carries link: named after the link
// unless the journal says otherwise.
func (x *executor) proxyName(link string) string {
	if ep := x.access.Toxiproxies[link]; ep != nil && ep.Proxy != "" {
		return ep.Proxy
	}
	return link
}

func (x *executor) etcd(ctx context.Context) (*clientv3.Client, error) {
	if ee, ok := x.env.(EtcdEnv); ok {
		return ee.Etcd(ctx)
	}
	if x.access.Etcd == nil {
		return nil, errors.New("the journal says nothing of an etcd")
	}
	addr, err := stack.PublishedAddr(ctx, x.access.Etcd.Container, x.access.Etcd.Port)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client %s: %w", addr, err)
	}
	return cli, nil
}

// run carries out undo steps newest first, past errors, and returns them
// joined.
func (x *executor) run(ctx context.Context, undo []Undo) error {
	var errs []error
	for i := len(undo) - 1; i >= 0; i-- {
		if err := x.do(ctx, undo[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (x *executor) do(ctx context.Context, u Undo) error {
	switch u.Action {
	case UndoRemoveToxic:
		if err := x.toxiproxy(u.Proxy).removeToxic(ctx, x.proxyName(u.Proxy), u.Toxic); err != nil {
			return fmt.Errorf("remove toxic %s from %s: %w", u.Toxic, u.Proxy, err)
		}
	case UndoSetProxy:
		enabled := u.Enabled == nil || *u.Enabled
		if err := x.toxiproxy(u.Proxy).setEnabled(ctx, x.proxyName(u.Proxy), enabled); err != nil {
			return fmt.Errorf("set proxy %s enabled=%t: %w", u.Proxy, enabled, err)
		}
	case UndoStart:
		return startContainer(ctx, u.Container, u.Ready)
	case UndoUnpause:
		return unpauseContainer(ctx, u.Container)
	case UndoRemoveContainer:
		return stack.RemoveContainer(ctx, u.Container)
	case UndoRestoreContainer:
		return x.restoreContainer(ctx, u)
	case UndoRestoreKeys:
		return x.restoreKeys(ctx, u.Keys)
	default:
		return fmt.Errorf("unknown undo action %q", u.Action)
	}
	return nil
}

// startContainer gets a container running again whatever state it is in:
// a restarting one is waited for, a paused one unpaused, a stopped one
// started. With ready set it also waits until the container serves, and a
// container that stops meanwhile is started again: a stop may still be in
// flight when this runs (its injector was killed after Docker took the stop,
// which the engine finishes; etcd takes seconds to exit on SIGTERM).
func startContainer(ctx context.Context, name string, ready *stack.ReadyCheck) error {
	cli, err := stack.Docker(ctx)
	if err != nil {
		return err
	}
	err = retry.Until(ctx, "start "+name, ReadyTimeout, 50*time.Millisecond, func(ctx context.Context) error {
		ctr, err := stack.Inspect(ctx, name)
		if err != nil {
			return err
		}
		st := ctr.State
		switch {
		case st == nil:
			return errors.New("no state")
		case st.Paused:
			if _, err := cli.ContainerUnpause(ctx, name, client.ContainerUnpauseOptions{}); err != nil {
				return fmt.Errorf("unpause: %w", err)
			}
			return retry.ErrNotYet
		case st.Restarting:
			return fmt.Errorf("restarting: %w", retry.ErrNotYet)
		case st.Running && ready != nil:
			// Ready within a round, else look at its state again.
			return stack.WaitReady(ctx, name, ready, readyRound)
		case st.Running:
			return nil
		default:
			if _, err := cli.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
				return fmt.Errorf("start: %w", err)
			}
			return retry.ErrNotYet
		}
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

// readyRound bounds each wait for readiness between two looks at a
// container's state while it is started again.
const readyRound = 2 * time.Second

func unpauseContainer(ctx context.Context, name string) error {
	cli, err := stack.Docker(ctx)
	if err != nil {
		return err
	}
	ctr, err := stack.Inspect(ctx, name)
	if err != nil {
		return err
	}
	if ctr.State == nil || !ctr.State.Paused {
		return nil
	}
	if _, err := cli.ContainerUnpause(ctx, name, client.ContainerUnpauseOptions{}); err != nil && !strings.Contains(err.Error(), "not paused") {
		return fmt.Errorf("unpause %s: %w", name, err)
	}
	return nil
}

// restoreContainer puts the original container of a component back: the
// one in its place (labelled with the fault's ID) is removed and the
// original recreated from its spec; then it waits until it serves. A
// container in place without the fault's label is the original, or one
// restored already: it only has to run.
func (x *executor) restoreContainer(ctx context.Context, u Undo) error {
	if u.Spec == nil {
		return errors.New("restore container: the journal holds no spec")
	}
	name := u.Spec.Name
	ctr, err := stack.Inspect(ctx, name)
	switch {
	case err != nil && !stack.IsNotFound(err):
		return err
	case err == nil && ctr.Config != nil && ctr.Config.Labels[stack.LabelFault] != u.FaultID:
		return startContainer(ctx, name, u.Spec.Ready)
	case err == nil:
		if err := stack.RemoveContainer(ctx, name); err != nil {
			return err
		}
	}
	if _, err := stack.CreateContainer(ctx, *u.Spec); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if ce, ok := x.env.(ContainersEnv); ok {
		if comp := u.Spec.Labels[stack.LabelComponent]; comp != "" {
			if err := ce.Refresh(ctx, comp); err != nil {
				return err
			}
		}
	}
	return stack.WaitReady(ctx, name, u.Spec.Ready, ReadyTimeout)
}

// restoreKeys puts each key back to its previous value by compare-and-swap:
// a key still holding what the fault wrote is restored, in a transaction
// that fails if it changes meanwhile; a key already at its previous value
// is done; any other value is someone else's and is left alone (an error
// wrapping ErrConflict).
func (x *executor) restoreKeys(ctx context.Context, keys []KeyChange) error {
	cli, err := x.etcd(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	var errs []error
	for _, k := range keys {
		var conflict error
		err := retry.Until(ctx, "restore "+k.Key, 10*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
			res, err := cli.Get(ctx, k.Key)
			if err != nil {
				return err
			}
			var cur *string
			var rev int64
			if len(res.Kvs) > 0 {
				v := string(res.Kvs[0].Value)
				cur, rev = &v, res.Kvs[0].ModRevision
			}
			switch {
			case sameValue(cur, k.Prev):
				return nil
			case !sameValue(cur, k.Wrote):
				conflict = errConflict{key: k.Key, cur: cur}
				return nil // for good: polling will not change it
			}
			op := clientv3.OpDelete(k.Key)
			if k.Prev != nil {
				op = clientv3.OpPut(k.Key, *k.Prev)
			}
			tr, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k.Key), "=", rev)).Then(op).Commit()
			if err != nil {
				return err
			}
			if !tr.Succeeded {
				return fmt.Errorf("%s changed during the swap: %w", k.Key, retry.ErrNotYet)
			}
			return nil
		})
		if err == nil {
			err = conflict
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restore etcd key %s: %w", k.Key, err))
		}
	}
	return errors.Join(errs...)
}

type errConflict struct {
	key string
	cur *string
}

func (e errConflict) Error() string {
	v := "absent"
	if e.cur != nil {
		v = fmt.Sprintf("%q", *e.cur)
	}
	return fmt.Sprintf("%s %v (now %s): left alone", e.key, ErrConflict, v)
}

func (e errConflict) Unwrap() error { return ErrConflict }

func sameValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
