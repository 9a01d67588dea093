package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/stack"
)

// etcd_put and etcd_delete feed a team's own etcd-fed control plane
// incorrect or incomplete data, on one key or every key under a prefix. The
// previous values are journalled and restored by compare-and-swap.
func init() {
	putParams := []string{"prefix", "value"}
	mustRegister(Type{
		Name: "etcd_put", Kind: Config, Params: putParams, Targets: seedKeys,
		Doc: "writes value to an etcd key (or, with prefix: true, to every key under the prefix); the previous values are restored",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			p := newParams(spec.Params, putParams...)
			prefix := p.boolean("prefix", false)
			value, set := p.get("value")
			s, isStr := value.(string)
			switch {
			case !set:
				p.fail("param value is required (the string to write)")
			case !isStr:
				p.fail("param value: %v (%T) is not a string: quote it", value, value)
			}
			if err := checkKey(spec.Target, prefix); err != nil {
				p.errs = append(p.errs, err)
			}
			if err := p.err(); err != nil {
				return nil, err
			}
			return newKeyFault(spec, env, prefix, &s, fmt.Sprintf("set to %q", clipValue(s)))
		},
	})
	delParams := []string{"prefix"}
	mustRegister(Type{
		Name: "etcd_delete", Kind: Config, Params: delParams, Targets: seedKeys,
		Doc: "deletes an etcd key (or, with prefix: true, every key under the prefix); the previous values are restored",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			p := newParams(spec.Params, delParams...)
			prefix := p.boolean("prefix", false)
			if err := checkKey(spec.Target, prefix); err != nil {
				p.errs = append(p.errs, err)
			}
			if err := p.err(); err != nil {
				return nil, err
			}
			return newKeyFault(spec, env, prefix, nil, "deleted")
		},
	})
}

// newKeyFault writes wrote (nil: deletes) to the target key, or with prefix
// to every key under it; what says what happened to them, for Describe.
func newKeyFault(spec Spec, env Env, prefix bool, wrote *string, what string) (Fault, error) {
	if !prefix {
		return NewEtcdFault(spec, env, "etcd key "+spec.Target+" "+what, putKey(spec.Target, wrote))
	}
	return NewEtcdFault(spec, env, "every etcd key under "+spec.Target+" "+what,
		func(ctx context.Context, cli *clientv3.Client) ([]KeyChange, map[string]int64, error) {
			return ReadPrefix(ctx, cli, spec.Target, func(string, string) *string { return wrote })
		})
}

// putKey plans writing one key (wrote nil: deleting it). Deleting a key
// that is not there changes nothing, which a case would read as survived:
// it is an error instead.
func putKey(key string, wrote *string) EtcdPlan {
	return func(ctx context.Context, cli *clientv3.Client) ([]KeyChange, map[string]int64, error) {
		prev, rev, err := ReadKey(ctx, cli, key)
		if err != nil {
			return nil, nil, err
		}
		if prev == nil && wrote == nil {
			return nil, nil, fmt.Errorf("etcd key %s is not there: nothing to delete", key)
		}
		return []KeyChange{{Key: key, Prev: prev, Wrote: wrote}}, map[string]int64{key: rev}, nil
	}
}

func checkKey(key string, prefix bool) error {
	switch {
	case key == "":
		return errors.New("no target: want an etcd key (or a prefix, with prefix: true)")
	case prefix && !strings.HasSuffix(key, "/"):
		// "/registry/endpoints/backend" would also match ".../backend-old".
		return fmt.Errorf("target %q: a prefix must end with /", key)
	}
	return nil
}

// seedKeys are the keys the definition seeds into etcd, for messages and
// globs; a key outside them is allowed (the system may write its own).
func seedKeys(def stack.Definition) []string {
	var out []string
	for _, kv := range def.Seed {
		out = append(out, kv.Key)
	}
	sort.Strings(out)
	return out
}

func clipValue(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
