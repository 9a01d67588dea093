// Package sampleapi defines the sample service's gRPC API without protoc: a
// hand-written service descriptor for okbreak.sample.v1.Sample whose one
// method, Hello, takes and returns a google.protobuf.Struct, carried by gRPC's
// standard proto codec. Both roles of the sample service use it: the backend
// serves it, the frontend calls it.
package sampleapi

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// ServiceName is the fully qualified gRPC service name.
const ServiceName = "okbreak.sample.v1.Sample"

// HelloMethod is the full method name of Hello, as it appears on the wire.
const HelloMethod = "/" + ServiceName + "/Hello"

// Field names of a Hello response.
const (
	FieldService  = "service"
	FieldInstance = "instance"
)

// SampleServer is the server side of okbreak.sample.v1.Sample.
// Implementations must be safe for concurrent use.
type SampleServer interface {
	// Hello answers with a Struct naming the service and the instance that
	// served the call (see NewReply).
	Hello(ctx context.Context, req *structpb.Struct) (*structpb.Struct, error)
}

// ServiceDesc describes okbreak.sample.v1.Sample for grpc.Server.
var ServiceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*SampleServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Hello",
		Handler:    helloHandler,
	}},
	Metadata: "okbreak/sample/v1/sample.proto",
}

func helloHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(structpb.Struct)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(SampleServer).Hello(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: HelloMethod}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(SampleServer).Hello(ctx, req.(*structpb.Struct))
	}
	return interceptor(ctx, in, info, handler)
}

// RegisterSampleServer registers srv on s.
func RegisterSampleServer(s grpc.ServiceRegistrar, srv SampleServer) {
	s.RegisterService(&ServiceDesc, srv)
}

// Hello calls okbreak.sample.v1.Sample/Hello on cc. A nil req sends an empty
// Struct.
func Hello(ctx context.Context, cc grpc.ClientConnInterface, req *structpb.Struct, opts ...grpc.CallOption) (*structpb.Struct, error) {
	if req == nil {
		req = &structpb.Struct{}
	}
	out := new(structpb.Struct)
	if err := cc.Invoke(ctx, HelloMethod, req, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// Reply is the part of a Hello response every client relies on: who served it.
type Reply struct {
	Service  string `json:"service"`
	Instance string `json:"instance"`
}

// NewReply encodes r as a Hello response.
func NewReply(r Reply) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		FieldService:  structpb.NewStringValue(r.Service),
		FieldInstance: structpb.NewStringValue(r.Instance),
	}}
}

// ParseReply decodes a Hello response. Both fields must be non-empty strings:
// an answer that does not say who served it cannot be judged for correctness.
func ParseReply(s *structpb.Struct) (Reply, error) {
	var r Reply
	get := func(name string) (string, error) {
		v, ok := s.GetFields()[name]
		if !ok {
			return "", fmt.Errorf("hello reply has no field %q", name)
		}
		str, ok := v.GetKind().(*structpb.Value_StringValue)
		if !ok || str.StringValue == "" {
			return "", fmt.Errorf("hello reply field %q must be a non-empty string", name)
		}
		return str.StringValue, nil
	}
	var err error
	if r.Service, err = get(FieldService); err != nil {
		return Reply{}, err
	}
	if r.Instance, err = get(FieldInstance); err != nil {
		return Reply{}, err
	}
	return r, nil
}
