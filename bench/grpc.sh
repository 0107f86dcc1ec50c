#!/usr/bin/env bash
# grpc.sh measures artclassd's Classify against a bare gRPC echo server
# (bench/echo) with the same payload and the same ghz settings, in one run:
# the second article of ../shared/data/seed/articles.jsonl, plaintext on
# loopback, 16 concurrent workers for 10 s each. It then reports artclassd's
# resident memory after the load and how long health took to say SERVING.
#
# Usage: bash bench/grpc.sh [DURATION]      (default 10s)
# Output: bench/out/grpc-*.json (ghz reports) and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10s}
seed=${ARTCLASS_SEED:-../shared/data/seed/articles.jsonl}
out=bench/out
mkdir -p "$out" bin

go build -o bin/artclassd ./cmd/artclassd
go build -o bin/echo ./bench/echo
go build -modfile=tools/ghz/go.mod -o bin/ghz github.com/bojand/ghz/cmd/ghz
go build -modfile=tools/go.mod -o bin/grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl

sed -n 2p "$seed" | python3 -c 'import json, sys
d = json.load(sys.stdin)
json.dump({"title": d["title"], "text": d["text"]}, sys.stdout)' > "$out/payload.json"
echo "payload: $(wc -c < "$out/payload.json") bytes"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Start artclassd and time how long health takes to report SERVING.
start_ns=$(date +%s%N)
bin/artclassd --listen 127.0.0.1:50061 --log-level warn > "$out/artclassd.log" 2>&1 &
pids+=($!)
daemon=$!
until bin/grpcurl -plaintext -max-time 1 -d '{"service":""}' 127.0.0.1:50061 grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING; do
	sleep 0.005
done
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))

bin/echo --listen 127.0.0.1:50062 > /dev/null &
pids+=($!)
sleep 0.3

ghz() {
	bin/ghz --insecure --call artclass.v1.ClassifierService/Classify -D "$out/payload.json" \
		-c 16 -z "$duration" --duration-stop=wait -O json "$1" > "$2"
}
ghz 127.0.0.1:50062 "$out/grpc-echo.json"
ghz 127.0.0.1:50061 "$out/grpc-artclassd.json"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$daemon/status")

python3 - "$out/grpc-echo.json" "$out/grpc-artclassd.json" "$rss_kb" "$ready_ms" <<'PY'
import json, sys
echo, art = (json.load(open(p)) for p in sys.argv[1:3])
rss_kb, ready_ms = int(sys.argv[3]), int(sys.argv[4])
def p(r, q):
    return next(x["latency"] for x in r["latencyDistribution"] if x["percentage"] == q) / 1e6
def errors(r):
    return sum(v for k, v in r.get("statusCodeDistribution", {}).items() if k != "OK")
for name, r in (("echo", echo), ("artclassd", art)):
    print(f"{name:10} {r['rps']:9.0f} req/s  p50 {p(r, 50):5.2f} ms  p99 {p(r, 99):5.2f} ms  errors {errors(r)}")
ratio = art["rps"] / echo["rps"]
print(f"ratio      {ratio:.2f} (target >= 0.70)")
print(f"p99        {p(art, 99):.2f} ms (target <= 5 ms)")
print(f"RSS        {rss_kb / 1024:.1f} MB after the load (target <= 60 MB)")
print(f"SERVING    {ready_ms} ms after start (target <= 300 ms)")
PY
