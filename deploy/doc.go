// Package deploy holds artclass's Kubernetes manifests: a kustomize base
// (base/) and one overlay per model store (overlays/file, overlays/s3).
// It has no code; its tests render every overlay with kustomize's Go API,
// decode each object strictly into its k8s.io/api type, check the
// properties the fleet depends on, and run every container's command line
// through the real artclassd and artclass binaries' flag parsing.
//
// It is its own Go module so that the Kubernetes libraries stay out of the
// service's go.mod. Run it from this directory:
//
//	go test ./...
//
// docs/deploy.md explains the deployment.
package deploy
