#!/usr/bin/env bash
# gen.sh lints the protobuf API and regenerates its Go code beside the .proto
# files (proto/artclass/v1: messages, gRPC stubs, the grpc-gateway reverse
# proxy) and the OpenAPI description the gateway embeds
# (gateway/openapi/artclass.swagger.json; its options are in
# gateway/openapi/config.yaml). buf and the protoc plugins are the versions
# pinned in tools/buf/go.mod and tools/go.mod; buf has its own module file
# because it needs a newer google.golang.org/protobuf than the protoc-gen-go
# we pin.
set -euo pipefail
cd "$(dirname "$0")/.."

buf() { go tool -modfile=tools/buf/go.mod buf "$@"; }

buf format --diff --exit-code proto
buf lint
buf generate
