# syntax=docker/dockerfile:1
#
# artclass: both commands, artclassd (the server, the entrypoint) and
# artclass (the CLI, which the Kubernetes trainer Job runs), as static
# binaries on distroless/static, run as the non-root user 65532.
#
#   docker build -t artclass .
#   docker run --rm -p 50051:50051 -p 8080:8080 artclass --listen=:50051 --http-listen=:8080
#
# deploy/ runs both with an explicit command (/usr/local/bin/artclassd,
# /usr/local/bin/artclass); its test checks that this file installs them.

# The builder runs on the build machine's platform and cross-compiles, so a
# multi-platform build (docker buildx --platform linux/amd64,linux/arm64)
# needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0: static binaries that need no libc, so they run on
# distroless/static. -trimpath and no VCS stamping make the build
# reproducible from the source alone.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/ ./cmd/artclassd ./cmd/artclass

# distroless/static: CA certificates (for S3 over HTTPS), tzdata and
# /etc/passwd with the nonroot user, and no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/artclassd /usr/local/bin/artclassd
COPY --from=build /out/artclass /usr/local/bin/artclass
USER 65532:65532
# gRPC, HTTP/JSON, Prometheus metrics (with --listen=:50051
# --http-listen=:8080 --metrics-listen=:9090; the defaults are localhost).
EXPOSE 50051 8080 9090
ENTRYPOINT ["/usr/local/bin/artclassd"]
