#!/usr/bin/env bash
# seaweedfs.sh builds SeaweedFS's `weed` (a real S3-compatible server,
# Apache-2.0) for the model store's and the fleet's tests, and prints its path.
# `go install` refuses the module (its go.mod has replace directives), so the
# module is downloaded through the Go module proxy, copied somewhere writable
# and built there. The binary is cached in .cache/ (gitignored): the first
# build takes about 4 minutes, later calls return at once.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v0.0.0-20261109003541-7506e5f91cd6
cache=${ARTCLASS_CACHE:-$PWD/.cache}
bin=$cache/seaweedfs-$version/weed
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$cache"
dir=$(cd "$cache" && GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "seaweedfs.sh: go mod download gave no directory" >&2; exit 1; }
src=$(mktemp -d "$cache/seaweedfs-src.XXXXXX")
trap 'chmod -R u+w "$src" && rm -rf "$src"' EXIT
cp -r "$dir/." "$src"
chmod -R u+w "$src"
(cd "$src" && CGO_ENABLED=0 go build -o "$bin.tmp" ./weed) >&2
mv "$bin.tmp" "$bin"
echo "$bin"
