// Package envoyconfig checks Envoy configuration from Go, the way Envoy would
// at load time, for a machine where no Envoy binary can run: a bootstrap YAML
// is parsed strictly into the v3 Bootstrap proto and every message, including
// the ones packed in Any fields (typed_config and friends), is checked against
// Envoy's protoc-gen-validate rules.
//
// What this does not catch: checks Envoy performs in C++ only (for example
// that a cluster named by an ADS config source exists, or that an EDS
// endpoint address is an IP literal). Those are the job of the end-to-end
// runs against the official image.
package envoyconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
	"gopkg.in/yaml.v3"

	// Extensions that may appear inside Any fields. protojson and Any
	// unpacking find message types in the global registry, so every type a
	// bootstrap or an xDS resource of this project packs must be linked in.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/raw_buffer/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// Parse reads an Envoy bootstrap in YAML (or JSON, which is YAML) into the v3
// Bootstrap proto. Unknown fields are errors, as they are for Envoy, so a
// typo'd field name fails here instead of being silently dropped. Parse does
// not run the validation rules; Validate does.
func Parse(yamlBytes []byte) (*bootstrapv3.Bootstrap, error) {
	var doc any
	if err := yaml.Unmarshal(yamlBytes, &doc); err != nil {
		return nil, fmt.Errorf("parse bootstrap YAML: %w", err)
	}
	if doc == nil {
		return nil, errors.New("parse bootstrap YAML: document is empty")
	}
	doc, err := jsonCompatible(doc, "")
	if err != nil {
		return nil, fmt.Errorf("parse bootstrap YAML: %w", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("convert bootstrap YAML to JSON: %w", err)
	}
	var bs bootstrapv3.Bootstrap
	opts := protojson.UnmarshalOptions{DiscardUnknown: false, Resolver: protoregistry.GlobalTypes}
	if err := opts.Unmarshal(js, &bs); err != nil {
		return nil, fmt.Errorf("bootstrap does not match envoy.config.bootstrap.v3.Bootstrap: %w", err)
	}
	return &bs, nil
}

// Validate parses an Envoy bootstrap YAML strictly and checks it, and every
// message packed in an Any inside it, against Envoy's validation rules.
func Validate(yamlBytes []byte) error {
	bs, err := Parse(yamlBytes)
	if err != nil {
		return err
	}
	if err := ValidateMessage(bs); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return nil
}

// allValidator is implemented by every message generated with
// protoc-gen-validate; ValidateAll reports every violation, not just the
// first.
type allValidator interface {
	ValidateAll() error
}

// ValidateMessage checks m against Envoy's validation rules, then unpacks
// every Any found anywhere inside it (recursively) and checks the packed
// message too. ValidateAll alone stops at Any fields, which is where most of
// a listener's configuration (typed_config) lives. An Any whose type is not
// linked into this binary is an error: Envoy would reject a type it does not
// know, and silently skipping it would hide mistakes.
func ValidateMessage(m proto.Message) error {
	if m == nil {
		return errors.New("nil message")
	}
	if v, ok := m.(allValidator); ok {
		if err := v.ValidateAll(); err != nil {
			return err
		}
	}
	return walk(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().Name()))
}

// walk visits every message below msg and validates the contents of each Any.
func walk(msg protoreflect.Message, path string) error {
	var errs []error
	msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				errs = append(errs, visit(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i)))
			}
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				errs = append(errs, visit(mv.Message(), fmt.Sprintf("%s[%s]", name, k.String())))
				return true
			})
		default:
			errs = append(errs, visit(v.Message(), name))
		}
		return true
	})
	return errors.Join(errs...)
}

// visit validates one message found at path: an Any is unpacked and its
// content validated; any other message is walked for nested Anys (its own
// rules were already checked by the enclosing ValidateAll).
func visit(msg protoreflect.Message, path string) error {
	a, ok := msg.Interface().(*anypb.Any)
	if !ok {
		return walk(msg, path)
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		return fmt.Errorf("%s: cannot unpack Any of type %q: %w", path, a.GetTypeUrl(), err)
	}
	typeName := a.GetTypeUrl()[strings.LastIndex(a.GetTypeUrl(), "/")+1:]
	if v, ok := inner.(allValidator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s (%s): %w", path, typeName, err)
		}
	}
	return walk(inner.ProtoReflect(), path+"<"+typeName+">")
}

// jsonCompatible turns YAML-decoded maps with non-string keys (yaml.v3 makes
// them for keys such as 80 or true) into JSON objects with the keys spelled
// as strings, so that encoding/json can marshal the document.
func jsonCompatible(v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := jsonCompatible(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(k)
			}
			c, err := jsonCompatible(e, path+"."+ks)
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case []any:
		for i, e := range t {
			c, err := jsonCompatible(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	default:
		return v, nil
	}
}
