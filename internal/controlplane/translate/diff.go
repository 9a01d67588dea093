package translate

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// Diff lists where two sets of resources differ, sorted, one line for each
// place: the names an incident file's `changes:` uses (harness/incident),
// so that a test can hold the file to what the control plane really serves.
//
//	TYPE NAME              a resource only one side has
//	TYPE NAME: FIELD.PATH  a field the two sides hold differently
//
// TYPE is ShortType's (listener, route, cluster, endpoint); NAME the
// resource's name. FIELD.PATH names fields by their proto names, as
// protojson writes them with UseProtoNames, joined by dots; [i] indexes a
// list, ["key"] a map. An Any holding the same type on both sides is
// followed into that message under the Any's own field name
// (filter_chains[0].filters[0].typed_config.use_remote_address), as
// protojson nests it; holding different types, it is one difference. The
// other well-known types (Duration, UInt32Value, BoolValue...) are one
// value each, as protojson writes them: connect_timeout, not
// connect_timeout.seconds.
//
// A difference is named where it starts: a message, list or map set on one
// side only is one difference, not one per field inside it, and so is a
// list whose length differs; lists of equal length are compared item by
// item. Unset and default are the same (proto3: false is unset).
func Diff(a, b Resources) ([]string, error) {
	var out []string
	typs := map[resource.Type]bool{}
	for t := range a {
		typs[t] = true
	}
	for t := range b {
		typs[t] = true
	}
	for t := range typs {
		as, bs := byResourceName(a[t]), byResourceName(b[t])
		names := map[string]bool{}
		for n := range as {
			names[n] = true
		}
		for n := range bs {
			names[n] = true
		}
		for n := range names {
			head := ShortType(t) + " " + n
			ra, rb := as[n], bs[n]
			if ra == nil || rb == nil {
				out = append(out, head)
				continue
			}
			d := &differ{}
			d.message("", ra.ProtoReflect(), rb.ProtoReflect())
			if d.err != nil {
				return nil, fmt.Errorf("diff %s: %w", head, d.err)
			}
			for _, p := range d.paths {
				out = append(out, head+": "+p)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

func byResourceName(items []types.Resource) map[string]types.Resource {
	m := make(map[string]types.Resource, len(items))
	for _, r := range items {
		m[cache.GetResourceName(r)] = r
	}
	return m
}

// differ walks two messages of one type and collects the paths where they
// differ; err is the first Any it could not open.
type differ struct {
	paths []string
	err   error
}

func (d *differ) add(path string) { d.paths = append(d.paths, path) }

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (d *differ) message(path string, a, b protoreflect.Message) {
	if a.Descriptor().FullName() != b.Descriptor().FullName() {
		d.add(path)
		return
	}
	switch name := a.Descriptor().FullName(); {
	case name == "google.protobuf.Any":
		d.any(path, a, b)
		return
	case name.Parent() == "google.protobuf":
		// A well-known type (Duration, UInt32Value, BoolValue...) is one
		// value in protojson ("1s", 3, true): named whole, never .seconds
		// or .value.
		if !proto.Equal(a.Interface(), b.Interface()) {
			d.add(path)
		}
		return
	}
	fields := a.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		p := join(path, string(fd.Name()))
		ha, hb := a.Has(fd), b.Has(fd)
		switch {
		case !ha && !hb:
		case ha != hb:
			d.add(p)
		case fd.IsList():
			d.list(p, fd, a.Get(fd).List(), b.Get(fd).List())
		case fd.IsMap():
			d.mapField(p, fd, a.Get(fd).Map(), b.Get(fd).Map())
		default:
			d.value(p, fd.Message() != nil, a.Get(fd), b.Get(fd))
		}
	}
}

// value compares one field's value, or one item of a list or map.
func (d *differ) value(path string, isMessage bool, a, b protoreflect.Value) {
	if isMessage {
		d.message(path, a.Message(), b.Message())
		return
	}
	if !a.Equal(b) {
		d.add(path)
	}
}

func (d *differ) list(path string, fd protoreflect.FieldDescriptor, a, b protoreflect.List) {
	if a.Len() != b.Len() {
		d.add(path)
		return
	}
	for i := range a.Len() {
		d.value(fmt.Sprintf("%s[%d]", path, i), fd.Message() != nil, a.Get(i), b.Get(i))
	}
}

func (d *differ) mapField(path string, fd protoreflect.FieldDescriptor, a, b protoreflect.Map) {
	keys := map[string]protoreflect.MapKey{}
	collect := func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys[mapKey(k)] = k
		return true
	}
	a.Range(collect)
	b.Range(collect)
	isMessage := fd.MapValue().Message() != nil
	for s, k := range keys {
		p := path + "[" + s + "]"
		if !a.Has(k) || !b.Has(k) {
			d.add(p)
			continue
		}
		d.value(p, isMessage, a.Get(k), b.Get(k))
	}
}

// mapKey writes a map key as protojson would spell it, quoted when it is a
// string so that dots in a key (an extension's name) are not path dots.
func mapKey(k protoreflect.MapKey) string {
	if s, ok := k.Interface().(string); ok {
		return strconv.Quote(s)
	}
	return k.String()
}

// any follows two Anys into the messages they hold when they hold the same
// type; the path stays the Any's field, as protojson nests an Any's content
// in place.
func (d *differ) any(path string, a, b protoreflect.Message) {
	aa, ok1 := a.Interface().(*anypb.Any)
	ba, ok2 := b.Interface().(*anypb.Any)
	if !ok1 || !ok2 {
		d.err = fmt.Errorf("%s: an Any that is not an *anypb.Any", path)
		return
	}
	if aa.GetTypeUrl() != ba.GetTypeUrl() {
		d.add(path)
		return
	}
	am, err := aa.UnmarshalNew()
	if err == nil {
		bm := am.ProtoReflect().New().Interface()
		if err = ba.UnmarshalTo(bm); err == nil {
			d.message(path, am.ProtoReflect(), bm.ProtoReflect())
			return
		}
	}
	if d.err == nil {
		d.err = fmt.Errorf("%s: open Any of type %s: %w", path, aa.GetTypeUrl(), err)
	}
}
