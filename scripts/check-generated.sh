#!/usr/bin/env bash
# check-generated.sh fails when the protobuf API does not pass `buf lint` or
# when `buf generate` would change the committed generated code: the Go code
# in proto/ and the OpenAPI description the gateway serves. CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

buf() { go tool -modfile=tools/buf/go.mod buf "$@"; }

buf lint
buf format --diff --exit-code proto
# v1 was broken once before its first release; every change since must be
# compatible with that baseline (docs/server.md: what changed in v1). A
# deliberate new major version gets a new package, not a new baseline.
buf breaking proto --against proto/baseline.binpb

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Generate into a scratch directory and compare, so a dirty tree is never
# touched and a file that generation would delete is caught too.
buf generate --output "$tmp"
status=0
diff -r --exclude='*.proto' --exclude=baseline.binpb "$tmp/proto" proto >/dev/null 2>&1 || status=1
openapi=gateway/openapi/artclass.swagger.json
if ! cmp -s "$tmp/$openapi" "$openapi"; then
	diff -u "$openapi" "$tmp/$openapi" >&2 || true
	echo "stale generated file: $openapi" >&2
	status=1
fi
# Also catch generated files in proto/ that generation no longer produces.
while IFS= read -r f; do
	[ -e "$tmp/$f" ] || { echo "stale generated file: $f" >&2; status=1; }
done < <(find proto -name '*.pb.go' -o -name '*.pb.gw.go' | sort)
if [ "$status" -ne 0 ]; then
	diff -ru --exclude='*.proto' proto "$tmp/proto" >&2 || true
	echo "generated code is out of date: run scripts/gen.sh and commit the result" >&2
	exit 1
fi
echo "generated code is up to date"
