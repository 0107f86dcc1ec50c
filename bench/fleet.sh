#!/usr/bin/env bash
# fleet.sh measures issue 11's fleet targets, with artclassd replicas on
# loopback driven by bench/fleetctl (the Go client, round-robin over the
# replicas, retrying UNAVAILABLE):
#
#   convergence  3 replicas with --store-poll 1s on a directory store (and
#                on SeaweedFS S3 when the weed binary is built): PROMOTIONS
#                promotions written straight to the store at random moments,
#                each timed from its write until the slowest replica serves
#                it and names it as the store's active version.
#                Target: <= poll interval + 1 s = 2 s.
#   load         Classify throughput through the round-robin client, 16
#                callers for DURATION, against 1 replica and against 3
#                replicas, ROUNDS rounds, each order in turn (other work on
#                a shared host moves single runs by ±30 %: the median ratio
#                is what to quote); 0 failed calls. With the replicas' CPU
#                time per call.
#                Target: 3 replicas within 10 % of 1 (this machine has two
#                cores: the replicas share one, the load generator has the
#                other, so the cores, not artclass, set the rate).
#   idle CPU     a replica's CPU (utime + stime from /proc/PID/stat) over
#                60 s idle with the default --store-poll 5s, on a directory
#                store and on S3, beside one without a store; the difference
#                is what polling costs. Target: <= 1 % of a core.
#
# The article is the first long one of testdata/corpus (about 6 KB). Servers
# run on CPU 1 and fleetctl on CPU 0 (taskset), when there are two CPUs.
# S3 parts are skipped when there is no weed binary (scripts/seaweedfs.sh
# builds it; ARTCLASS_WEED names another); nothing here needs ../shared.
#
# Usage: bash bench/fleet.sh [PROMOTIONS] [DURATION] [ROUNDS] [IDLE]
#        (default 20 5s 10 60)
# Output: bench/out/fleet-*.json and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

promotions=${1:-20}
duration=${2:-5s}
rounds=${3:-10}
idle=${4:-60}
out=bench/out
mkdir -p "$out" bin
rm -f "$out"/fleet-*.json
server_cpu=() load_cpu=()
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then
	server_cpu=(taskset -c 1) load_cpu=(taskset -c 0)
	echo "pinned: artclassd on CPU 1, fleetctl on CPU 0"
fi
go build -o bin/ ./cmd/artclassd ./bench/fleetctl

work=$(mktemp -d "${TMPDIR:-/tmp}/artclass-fleet-bench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}" $(cat "$work"/*.pid 2> /dev/null); do kill "$p" 2> /dev/null || true; done
	wait 2> /dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# The weed binary, if built; S3 parts need it.
source scripts/weed-mini.sh
weed=${ARTCLASS_WEED:-$(ls .cache/seaweedfs-*/weed 2> /dev/null | tail -1 || true)}
s3_store=""
if [ -n "$weed" ] && [ -x "$weed" ]; then
	export AWS_ACCESS_KEY_ID=artclass-bench-key AWS_SECRET_ACCESS_KEY=artclass-bench-secret
	weed_mini "$work" artclass-bench
	# weed gets CPU 0 with the load generator: the store is another machine
	# in production.
	"${load_cpu[@]}" "$weed" "${weed_args[@]}" > "$work/weed.log" 2>&1 &
	pids+=("$!")
	s3_base="s3://artclass-bench?endpoint=$s3_endpoint&region=us-east-1&use_path_style=true"
	if s3_ready bin/fleetctl "$s3_base&prefix=probe/"; then
		s3_store=$s3_base
	else
		echo "weed did not serve S3; S3 parts skipped. Its log:"
		tail -20 "$work/weed.log"
	fi
else
	echo "no weed binary (bash scripts/seaweedfs.sh builds it): S3 parts skipped"
fi

# start_replica NAME ARGS... starts artclassd on CPU 1 and prints its gRPC
# address once it listens. It runs in a command substitution, so the PID
# goes to $work/NAME.pid for stop_replicas and the cleanup.
start_replica() {
	local name=$1 log=$work/$1.log a
	shift
	"${server_cpu[@]}" bin/artclassd --listen 127.0.0.1:0 --http-listen "" "$@" > "$log" 2>&1 &
	echo $! > "$work/$name.pid"
	for _ in $(seq 1 300); do
		a=$(jq -r 'select(.msg == "listening") | .grpc_addr' "$log" 2> /dev/null | head -1)
		if [ -n "$a" ]; then
			echo "$a"
			return 0
		fi
		sleep 0.05
	done
	echo "artclassd $name did not start:" >&2
	cat "$log" >&2
	return 1
}
# stop_replicas stops every replica started so far and waits until each
# has exited.
stop_replicas() {
	local f pid
	for f in "$work"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2> /dev/null || true
		while kill -0 "$pid" 2> /dev/null; do sleep 0.05; done
		rm -f "$f"
	done
}

# Convergence.
converge() { # converge KIND URL
	local kind=$1 url=$2 addrs=()
	for i in 1 2 3; do addrs+=("$(start_replica "c$kind$i" --model-store "$url" --store-poll 1s)"); done
	local list
	list=$(IFS=,; echo "${addrs[*]}")
	"${load_cpu[@]}" bin/fleetctl converge -addr "$list" -store "$url" -n "$promotions" > "$out/fleet-converge-$kind.json"
	stop_replicas
}
mkdir "$work/store-converge"
echo "convergence: $promotions promotions, 3 replicas, --store-poll 1s, directory store"
converge file "file://$work/store-converge"
if [ -n "$s3_store" ]; then
	echo "convergence: $promotions promotions, 3 replicas, --store-poll 1s, S3"
	converge s3 "$s3_store&prefix=converge/"
fi

# Load: 1 replica against 3, on one directory store.
python3 - "$work/article.txt" << 'PY'
import json, sys
for line in open("testdata/corpus/long-defence-middle-east.jsonl"):
    d = json.loads(line)
    if len(d["text"]) > 5000:
        open(sys.argv[1], "w").write(d["title"] + "\n" + d["text"])
        break
PY
echo "load: $(wc -c < "$work/article.txt") byte article, 16 callers, $duration a run, $rounds rounds"
mkdir "$work/store-load"
addrs=()
for i in 1 2 3; do addrs+=("$(start_replica "l$i" --model-store "file://$work/store-load")"); done
three=$(IFS=,; echo "${addrs[*]}")
"${load_cpu[@]}" bin/fleetctl load -addr "$three" -article "$work/article.txt" -c 16 -d 2s > /dev/null # warm up
# replica_ticks is the CPU time, in clock ticks, the load replicas have used.
replica_ticks() { for i in 1 2 3; do awk '{print $14 + $15}' "/proc/$(cat "$work/l$i.pid")/stat"; done | paste -sd+ | bc; }
for r in $(seq 1 "$rounds"); do
	order="1 3"
	[ $((r % 2)) = 1 ] || order="3 1"
	for n in $order; do
		target=${addrs[0]}
		[ "$n" = 1 ] || target=$three
		before=$(replica_ticks)
		"${load_cpu[@]}" bin/fleetctl load -addr "$target" -article "$work/article.txt" -c 16 -d "$duration" > "$out/fleet-load-$n-$r.json"
		echo $(($(replica_ticks) - before)) > "$out/fleet-load-$n-$r.ticks"
	done
done
stop_replicas

# Idle CPU: three replicas side by side, idle, at the default poll.
echo "idle CPU: ${idle} s, default --store-poll"
mkdir "$work/store-idle"
start_replica inone > /dev/null
start_replica ifile --model-store "file://$work/store-idle" > /dev/null
[ -z "$s3_store" ] || start_replica is3 --model-store "$s3_store&prefix=idle/" > /dev/null
sleep 6 # past the start and the first polls
ticks() { [ -e "$work/$1.pid" ] && awk '{print $14 + $15}' "/proc/$(cat "$work/$1.pid")/stat" || echo -1; }
declare -A before
for n in inone ifile is3; do before[$n]=$(ticks "$n"); done
sleep "$idle"
{
	echo "{"
	for n in inone ifile is3; do
		t=$(ticks "$n")
		if [ "$t" = -1 ]; then d=null; else d=$((t - before[$n])); fi
		echo "\"$n\": $d,"
	done
	echo "\"seconds\": $idle, \"hz\": $(getconf CLK_TCK)}"
} > "$out/fleet-idle.json"
stop_replicas

python3 - "$out" "$rounds" << 'PY'
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
for kind in ("file", "s3"):
    p = f"{out}/fleet-converge-{kind}.json"
    if not os.path.exists(p):
        continue
    c = json.load(open(p))
    over = sum(1 for s in c["seconds"] if s > 2.0)
    print(f"convergence {kind:4}  {c['promotions']} promotions: min {c['min']:.2f} s, median {c['median']:.2f} s, "
          f"p90 {c['p90']:.2f} s, max {c['max']:.2f} s; {over} over 2 s (target: all <= 2 s)")
one = [json.load(open(f"{out}/fleet-load-1-{r}.json")) for r in range(1, rounds + 1)]
three = [json.load(open(f"{out}/fleet-load-3-{r}.json")) for r in range(1, rounds + 1)]
hz = os.sysconf("SC_CLK_TCK")
def cpu_us(n, r, x):
    return int(open(f"{out}/fleet-load-{n}-{r}.ticks").read()) / hz / max(x["calls"], 1) * 1e6
for r, (a, b) in enumerate(zip(one, three), 1):
    print(f"load round {r}     1 replica {a['rps']:6.0f}/s (p99 {a['p99_ms']:4.1f} ms, {cpu_us(1, r, a):5.1f} µs CPU/call, {a['failed']} failed)   "
          f"3 replicas {b['rps']:6.0f}/s (p99 {b['p99_ms']:4.1f} ms, {cpu_us(3, r, b):5.1f} µs CPU/call, {b['failed']} failed)   ratio {b['rps'] / a['rps']:.2f}")
ratio = statistics.median(b["rps"] / a["rps"] for a, b in zip(one, three))
print(f"load               server CPU per call, median: 1 replica {statistics.median(cpu_us(1, r, a) for r, a in enumerate(one, 1)):.1f} µs, "
      f"3 replicas {statistics.median(cpu_us(3, r, b) for r, b in enumerate(three, 1)):.1f} µs")
failed = sum(x["failed"] for x in one + three)
calls = sum(x["calls"] for x in one + three)
print(f"load               3/1 median ratio {ratio:.2f} (target >= 0.90); {failed} of {calls} calls failed (target 0)")
idle = json.load(open(f"{out}/fleet-idle.json"))
pct = lambda t: 100 * t / idle["hz"] / idle["seconds"]
base = pct(idle["inone"])
line = f"idle CPU ({idle['seconds']} s)  no store {base:.2f} %, directory store {pct(idle['ifile']):.2f} % (+{pct(idle['ifile']) - base:.2f})"
if idle.get("is3") is not None:
    line += f", S3 {pct(idle['is3']):.2f} % (+{pct(idle['is3']) - base:.2f})"
print(line + " of a core (target: polling <= 1 %)")
PY
