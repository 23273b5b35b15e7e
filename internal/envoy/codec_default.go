//go:build !vtprotobuf

package envoy

import "google.golang.org/grpc"

// codecOptions are none: without the vtprotobuf build tag go-control-plane
// has no generated marshalling, and gRPC's proto codec serves (see
// codec.go, built with -tags vtprotobuf).
func codecOptions() []grpc.ServerOption { return nil }
