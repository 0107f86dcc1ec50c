#!/usr/bin/env bash
# soak.sh runs ghz against a local artclassd for 60 s at 50 concurrent
# workers while the model is retrained twice over gRPC (grpcurl, the whole
# testdata/corpus) into the replica's model store (--model-dir), and SIGHUP
# makes it poll the store twice, then checks:
#
#   - no call got a status other than OK (ghz's count, and the server's own
#     grpc_server_handled_total as a cross-check);
#   - both Train calls succeeded, both SIGHUPs polled the store, and no poll
#     of the store failed;
#   - go_goroutines, scraped from the metrics endpoint, is back to its
#     value before the load within 10 s of the load's end;
#   - artclassd's resident memory grew by at most 20 % between the 10th and
#     the 60th second of the load.
#
# Usage: bash bench/soak.sh [DURATION_SECONDS]      (default 60)
# Output: a summary on stdout; bench/out/soak-ghz.json (ghz's report),
# soak-samples.tsv (one line a second: time, RSS, goroutines, event) and
# soak-artclassd.log. Exit status 1 if a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-60}
workers=50
grpc_addr=127.0.0.1:${ARTCLASS_SOAK_PORT:-50071}
metrics_addr=127.0.0.1:${ARTCLASS_SOAK_METRICS_PORT:-50072}
seed=${ARTCLASS_SEED:-../shared/data/seed/articles.jsonl}
out=bench/out
mkdir -p "$out" bin

go build -o bin/artclassd ./cmd/artclassd
go build -modfile=tools/ghz/go.mod -o bin/ghz github.com/bojand/ghz/cmd/ghz
go build -modfile=tools/go.mod -o bin/grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl

# The load: the second seed article (4.6 KB), as bench/grpc.sh uses; an
# article of the corpus when ../shared is not there.
if [ -f "$seed" ]; then
	sed -n 2p "$seed"
else
	sed -n 1p testdata/corpus/elections.jsonl
fi | python3 -c 'import json, sys
d = json.load(sys.stdin)
json.dump({"article": {"title": d["title"], "text": d["text"]}}, sys.stdout)' > "$out/soak-payload.json"

# The two Train calls: the corpus with Rocchio, then with the default
# options (the embedded model's). Both forced past the quality gate, so
# each swaps the model.
train_messages() {
	python3 - "$1" testdata/corpus/*.jsonl <<'PY'
import json, sys
print(json.dumps({"options": json.loads(sys.argv[1])}))
for path in sys.argv[2:]:
    for line in open(path):
        if line.strip():
            d = json.loads(line)
            print(json.dumps({"samples": [{k: d[k] for k in ("title", "text", "labels") if k in d}]}))
PY
}
train_messages '{"algorithm": "rocchio", "force": true}' > "$out/soak-train-1.json"
train_messages '{"force": true}' > "$out/soak-train-2.json"

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"

bin/artclassd --listen "$grpc_addr" --http-listen "" --metrics-listen "$metrics_addr" --model-dir "$work/models" \
	--admin-token-file "$work/token" --log-level info > "$out/soak-artclassd.log" 2>&1 &
daemon=$!
pids+=("$daemon")
until bin/grpcurl -plaintext -connect-timeout 0.05 -max-time 1 -d '{"service":""}' "$grpc_addr" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING; do
	kill -0 "$daemon" || { echo "artclassd died:"; cat "$out/soak-artclassd.log"; exit 1; }
	sleep 0.05
done

metric() { # metric NAME_AND_LABELS: its value on the metrics endpoint, 0 if absent
	curl -fsS "http://$metrics_addr/metrics" | awk -v m="$1" 'index($0, m " ") == 1 { v = $2 } END { print v + 0 }'
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$daemon/status"; }

# Warm up, so the baseline counts the goroutines of a server that has
# served (a connection's worth come and go with each client).
bin/grpcurl -plaintext -d @ "$grpc_addr" artclass.v1.ClassifierService/Classify < "$out/soak-payload.json" > /dev/null
sleep 1
goroutines_before=$(metric go_goroutines)

bin/ghz --insecure --call artclass.v1.ClassifierService/Classify -D "$out/soak-payload.json" \
	-c "$workers" -z "${duration}s" --duration-stop=wait -O json "$grpc_addr" > "$out/soak-ghz.json" &
ghz=$!
pids+=("$ghz")
start_ns=$(date +%s%N)
elapsed() { echo $((($(date +%s%N) - start_ns) / 1000000000)); }

# The events, in the background: Train, SIGHUP, Train, SIGHUP.
at() { while [ "$(elapsed)" -lt "$1" ]; do sleep 0.2; done; }
train() {
	local n=$1
	echo "$(elapsed) train-$n-start" >> "$work/events"
	if bin/grpcurl -plaintext -max-time 60 -H "authorization: Bearer $(cat "$work/token")" -d @ \
		"$grpc_addr" artclass.v1.ClassifierService/Train < "$out/soak-train-$n.json" > "$work/train-$n.out" 2>&1; then
		echo "$(elapsed) train-$n-ok $(grep -o '"version": "[0-9a-f]*"' "$work/train-$n.out" | head -1 | cut -d'"' -f4)" >> "$work/events"
	else
		echo "$(elapsed) train-$n-FAILED $(tr '\n' ' ' < "$work/train-$n.out")" >> "$work/events"
	fi
}
hup() {
	echo "$(elapsed) sighup-$1" >> "$work/events"
	kill -HUP "$daemon"
}
(
	at $((duration * 12 / 60)); train 1
	at $((duration * 24 / 60)); hup 1
	at $((duration * 30 / 60)); train 2
	at $((duration * 42 / 60)); hup 2
) &
events=$!
pids+=("$events")

# One sample a second while the load runs.
printf 'second\trss_kb\tgoroutines\n' > "$out/soak-samples.tsv"
goroutines_peak=0
while kill -0 "$ghz" 2>/dev/null; do
	s=$(elapsed)
	g=$(metric go_goroutines)
	printf '%s\t%s\t%s\n' "$s" "$(rss_kb)" "$g" >> "$out/soak-samples.tsv"
	[ "$g" -gt "$goroutines_peak" ] && goroutines_peak=$g
	sleep 1
done
wait "$ghz" || true
wait "$events" || true
load_end_ns=$(date +%s%N)

# Goroutines back to where they were, within 10 s.
goroutines_after=$(metric go_goroutines)
for _ in $(seq 100); do
	[ "$goroutines_after" -le $((goroutines_before + 2)) ] && break
	sleep 0.1
	goroutines_after=$(metric go_goroutines)
done
settled_ms=$((($(date +%s%N) - load_end_ns) / 1000000))

handled_not_ok=$(curl -fsS "http://$metrics_addr/metrics" |
	awk '/^grpc_server_handled_total\{/ && /grpc_method="Classify"/ && !/grpc_code="OK"/ { n += $2 } END { print n + 0 }')
cp "$work/events" "$out/soak-events.txt"
python3 - "$out/soak-ghz.json" "$out/soak-samples.tsv" "$work/events" "$duration" "$workers" \
	"$goroutines_before" "$goroutines_peak" "$goroutines_after" "$settled_ms" "$handled_not_ok" \
	"$(grep -c 'SIGHUP: polling the model store' "$out/soak-artclassd.log")" "$(metric artclass_store_poll_errors_total)" \
	"$(metric 'artclass_train_total{result="ok"}')" <<'PY'
import json, sys
(ghz_path, samples_path, events_path, duration, workers, g_before, g_peak, g_after, settled_ms,
 handled_not_ok, hup_polls, poll_errors, train_ok) = sys.argv[1:]
duration, workers = int(duration), int(workers)
g_before, g_peak, g_after = int(g_before), int(g_peak), int(g_after)
r = json.load(open(ghz_path))
not_ok = sum(v for k, v in r.get("statusCodeDistribution", {}).items() if k != "OK")
errors = sum(r.get("errorDistribution", {}).values())
samples = [l.split("\t") for l in open(samples_path).read().split("\n")[1:] if l]
samples = [(int(s), int(rss), int(g)) for s, rss, g in samples]
def rss_at(sec):
    # The last sample taken at or before sec.
    return [rss for s, rss, _ in samples if s <= sec][-1]
first, last = duration * 10 // 60, duration - 1
rss_first, rss_last = rss_at(first), rss_at(last)
growth = (rss_last - rss_first) / rss_first * 100
peak_rss = max(rss for _, rss, _ in samples)

ok = True
def check(cond, text):
    global ok
    ok = ok and cond
    print(f"{'ok  ' if cond else 'FAIL'}  {text}")

print(f"load       {r['count']} calls in {r['total'] / 1e9:.1f} s, {r['rps']:.0f} req/s, {workers} workers; "
      f"p50 {next(x['latency'] for x in r['latencyDistribution'] if x['percentage'] == 50) / 1e6:.2f} ms, "
      f"p99 {next(x['latency'] for x in r['latencyDistribution'] if x['percentage'] == 99) / 1e6:.2f} ms")
print("events     " + "; ".join(l.strip() for l in open(events_path) if l.strip()))
check(not_ok == 0 and errors == 0, f"non-OK responses: {not_ok} (ghz status codes {r.get('statusCodeDistribution')}), errors {errors}")
check(int(handled_not_ok) == 0, f"non-OK Classify calls counted by the server: {handled_not_ok}")
check(int(train_ok) == 2, f"Train calls that succeeded: {train_ok} of 2")
check(int(hup_polls) == 2 and float(poll_errors) == 0, f"SIGHUP polls of the store: {hup_polls} (want 2), failed polls {poll_errors}")
check(g_after <= g_before + 2, f"goroutines: {g_before} before the load, {g_peak} at most during it, {g_after} {int(settled_ms) / 1000:.1f} s after it (tolerance +2)")
check(growth <= 20, f"RSS: {rss_first / 1024:.1f} MB at {first} s, {rss_last / 1024:.1f} MB at {last} s: {growth:+.1f} % (target <= 20 %); peak {peak_rss / 1024:.1f} MB")
sys.exit(0 if ok else 1)
PY
