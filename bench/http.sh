#!/usr/bin/env bash
# http.sh measures Classify over HTTP/JSON (the grpc-gateway in front of
# artclassd's gRPC server) against Classify over gRPC, on the same artclassd
# process and in the same run: the second article of
# ../shared/data/seed/articles.jsonl (4.5 KB), plaintext on loopback, 16
# concurrent clients for DURATION each, ROUNDS rounds alternating the two.
# gRPC load comes from ghz (pinned in tools/ghz); HTTP load from
# bench/httpload, a small Go program with 16 workers, each on its own
# keep-alive connection, that reads every response in full. The server runs
# on CPU 1 and the load generators on CPU 0 (taskset), so neither takes the
# other's core. Target: HTTP requests/s >= 0.5 x gRPC.
#
# Then it measures the playground in headless chromium
# (BenchmarkPlaygroundFirstPaint in gateway/): its weight as the browser
# loaded it (target <= 150 KB) and first paint on loopback (target <= 300 ms).
# That part is skipped when chromium is missing.
#
# Usage: bash bench/http.sh [DURATION] [ROUNDS]     (default 10s 3)
# Output: bench/out/http-*.json and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10s}
rounds=${2:-3}
seed=${ARTCLASS_SEED:-../shared/data/seed/articles.jsonl}
out=bench/out
if [ ! -f "$seed" ]; then
	echo "http.sh: skipped: the seed articles ($seed) are not here; set ARTCLASS_SEED to a JSONL file of articles"
	exit 0
fi
mkdir -p "$out" bin
server_cpu=() load_cpu=()
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then
	server_cpu=(taskset -c 1) load_cpu=(taskset -c 0)
	echo "pinned: artclassd on CPU 1, load generators on CPU 0"
fi

go build -o bin/artclassd ./cmd/artclassd
go build -o bin/httpload ./bench/httpload
go build -modfile=tools/ghz/go.mod -o bin/ghz github.com/bojand/ghz/cmd/ghz

sed -n 2p "$seed" | python3 -c 'import json, sys
d = json.load(sys.stdin)
json.dump({"article": {"title": d["title"], "text": d["text"]}}, sys.stdout)' > "$out/payload.json"
echo "payload: $(wc -c < "$out/payload.json") bytes"

grpc_addr=127.0.0.1:50071
http_addr=127.0.0.1:8071
"${server_cpu[@]}" bin/artclassd --listen "$grpc_addr" --http-listen "$http_addr" --log-level warn > "$out/http-artclassd.log" 2>&1 &
daemon=$!
trap 'kill "$daemon" 2>/dev/null || true' EXIT
for _ in $(seq 1 500); do
	curl -fsS "http://$http_addr/healthz" 2>/dev/null | grep -q SERVING && break
	sleep 0.01
done
curl -fsS "http://$http_addr/healthz" | grep -q SERVING || { echo "artclassd did not become healthy; see $out/http-artclassd.log" >&2; exit 1; }
# One call each way first: the same verdict, and warm connections and caches.
curl -fsS -H 'Content-Type: application/json' --data-binary @"$out/payload.json" "http://$http_addr/v1/classify" > "$out/http-reply.json"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon/stat"; }
for r in $(seq 1 "$rounds"); do
	before=$(cpu_ticks)
	"${load_cpu[@]}" bin/ghz --insecure --call artclass.v1.ClassifierService/Classify -D "$out/payload.json" \
		-c 16 -z "$duration" --duration-stop=wait -O json "$grpc_addr" > "$out/http-grpc-$r.json"
	echo $(($(cpu_ticks) - before)) > "$out/http-grpc-$r.ticks"
	before=$(cpu_ticks)
	"${load_cpu[@]}" bin/httpload -url "http://$http_addr/v1/classify" -body "$out/payload.json" \
		-c 16 -d "$duration" > "$out/http-http-$r.json"
	echo $(($(cpu_ticks) - before)) > "$out/http-http-$r.ticks"
done
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$daemon/status")

python3 - "$out" "$rounds" "$rss_kb" "$(getconf CLK_TCK)" <<'PY'
import json, statistics, sys
out, rounds, rss_kb, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def ticks(kind, r):
    return int(open(f"{out}/http-{kind}-{r}.ticks").read())
grpc, http = [], []
for r in range(1, rounds + 1):
    g = json.load(open(f"{out}/http-grpc-{r}.json"))
    p99 = next(x["latency"] for x in g["latencyDistribution"] if x["percentage"] == 99) / 1e6
    errs = sum(v for k, v in g.get("statusCodeDistribution", {}).items() if k != "OK")
    grpc.append({"rps": g["rps"], "p99": p99, "errors": errs, "count": g["count"], "ticks": ticks("grpc", r)})
    h = json.load(open(f"{out}/http-http-{r}.json"))
    http.append({"rps": h["rps"], "p99": h["p99_ms"], "errors": h["errors"], "count": h["requests"], "ticks": ticks("http", r)})
for r in range(rounds):
    for name, runs in (("gRPC", grpc), ("HTTP", http)):
        x = runs[r]
        cpu_us = x["ticks"] / hz / max(x["count"], 1) * 1e6
        print(f"round {r + 1} {name}  {x['rps']:7.0f} req/s  p99 {x['p99']:5.2f} ms  server CPU {cpu_us:5.1f} µs/req  errors {x['errors']}")
ratios = [h["rps"] / g["rps"] for h, g in zip(http, grpc)]
print()
print(f"median     gRPC {statistics.median(x['rps'] for x in grpc):.0f} req/s (p99 {statistics.median(x['p99'] for x in grpc):.2f} ms), "
      f"HTTP {statistics.median(x['rps'] for x in http):.0f} req/s (p99 {statistics.median(x['p99'] for x in http):.2f} ms)")
print(f"ratio      HTTP/gRPC median {statistics.median(ratios):.2f}  (rounds {' '.join(f'{x:.2f}' for x in ratios)}; target >= 0.50)")
print(f"errors     gRPC {sum(x['errors'] for x in grpc)}, HTTP {sum(x['errors'] for x in http)} (target 0)")
print(f"RSS        {rss_kb / 1024:.1f} MB after the load")
PY

echo
if command -v chromium > /dev/null || [ -n "${ARTCLASS_CHROMIUM:-}" ]; then
	# The mean of 20 loads in a fresh headless chromium, server on loopback.
	go test ./gateway -run '^$' -bench '^BenchmarkPlaygroundFirstPaint$' -benchtime 20x -count 1 | tee "$out/http-playground.txt" |
		awk '/^BenchmarkPlaygroundFirstPaint/ {
			for (i = 1; i <= NF; i++) m[$(i + 1)] = $i
			printf "playground %d bytes (target <= 153600), first paint %.0f ms, first contentful paint %.0f ms (target <= 300 ms), model card shown %.0f ms\n",
				m["page-bytes"], m["first-paint-ms"], m["first-contentful-paint-ms"], m["model-shown-ms"]
		}'
else
	echo "playground: skipped (no chromium; apt-get install -y chromium)"
fi
