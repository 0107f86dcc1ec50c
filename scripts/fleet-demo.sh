#!/usr/bin/env bash
# fleet-demo.sh runs the fleet scenario of cmd/artclassd's TestFleet by hand
# and prints a timeline: three artclassd replicas on one model store (a
# directory; with --s3 a SeaweedFS S3 server on loopback), a round-robin
# client classifying through all of them the whole time, while
#   - artclass train retrains through replica 1,
#   - artclass models activate rolls back through replica 2,
#   - replica 3 is killed with SIGKILL and restarted on the same port,
#   - two trainings start at once on replicas 1 and 2 (one wins, the other
#     is told which version did),
#   - (--s3) the S3 server is stopped for 10 s and started again,
#   - a trainer publishing straight to the store (artclass train --store) is
#     killed with SIGKILL partway through.
# Each event is a line; after it, a line for every change of what the
# replicas serve (rN VERSION, "*" while a replica has not yet seen its
# store's active version, "down"), until all three agree with the store.
# At the end: how many Classify calls the client made and how many failed.
#
# Usage: bash scripts/fleet-demo.sh [--s3]
# Needs Go; --s3 needs the weed binary (scripts/seaweedfs.sh builds it, about
# 4 minutes the first time). Everything runs on loopback from a temporary
# directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

use_s3=0
for arg in "$@"; do
	case $arg in
	--s3) use_s3=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "fleet-demo.sh: unknown argument $arg; usage: fleet-demo.sh [--s3]" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/artclass-fleet-demo.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
	wait 2> /dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "building artclassd, artclass and bench/fleetctl into $work/bin"
go build -o "$work/bin/" ./cmd/artclassd ./cmd/artclass ./bench/fleetctl
PATH=$work/bin:$PATH
source scripts/weed-mini.sh

t0=$(date +%s%N)
event() {
	local ds=$((($(date +%s%N) - t0 + 50000000) / 100000000))
	printf 't+%3d.%ds  %s\n' $((ds / 10)) $((ds % 10)) "$*"
}

# The store.
if [ "$use_s3" = 1 ]; then
	weed=$(bash scripts/seaweedfs.sh)
	export AWS_ACCESS_KEY_ID=artclass-demo-key AWS_SECRET_ACCESS_KEY=artclass-demo-secret
	weed_mini "$work" artclass-demo
	store="s3://artclass-demo?endpoint=$s3_endpoint&region=us-east-1&use_path_style=true&prefix=demo/"
	start_weed() {
		"$weed" "${weed_args[@]}" >> "$work/weed.log" 2>&1 &
		weed_pid=$!
		pids+=("$weed_pid")
		s3_ready fleetctl "$store" || { echo "weed did not serve S3; see $work/weed.log" >&2; exit 1; }
	}
	start_weed
	event "S3 server (SeaweedFS) on ${s3_endpoint#http://}"
else
	mkdir "$work/store"
	store="file://$work/store"
	event "store: $store"
fi

# The replicas.
(umask 077 && openssl rand -hex 32 > "$work/token")
addr=("" "" "")
replica_pid=("" "" "")
start_replica() { # start_replica I [ADDR]
	local i=$1 listen=${2:-127.0.0.1:0} log=$work/r$(($1 + 1)).log
	: > "$log"
	artclassd --listen "$listen" --http-listen "" --model-store "$store" --store-poll 1s \
		--admin-token-file "$work/token" > "$log" 2>&1 &
	replica_pid[$i]=$!
	pids+=("$!")
	for _ in $(seq 1 300); do
		addr[$i]=$(jq -r 'select(.msg == "listening") | .grpc_addr' "$log" 2> /dev/null | head -1)
		[ -n "${addr[$i]}" ] && return 0
		sleep 0.05
	done
	echo "replica $((i + 1)) did not start; see $log" >&2
	cat "$log" >&2
	exit 1
}
for i in 0 1 2; do start_replica "$i"; done
list="${addr[0]},${addr[1]},${addr[2]}"
watch() { fleetctl watch -addr "$list" -store "$store" -t0 "$t0" "$@"; }
event "3 replicas on $list started together on the empty store; one published the embedded model"
watch

fleetctl load -addr "$list" -c 4 > "$work/load.json" &
load_pid=$!
pids+=("$load_pid")
event "load: 4 callers classifying through the round-robin client, from now to the end"

# Training data: examples/samples.jsonl, and two halves of the project's corpus.
awk 'NR % 2 == 1' testdata/corpus/*.jsonl > "$work/half-a.jsonl"
awk 'NR % 2 == 0' testdata/corpus/*.jsonl > "$work/half-b.jsonl"
admin=(--token-file "$work/token" -q)

artclass train --addr "${addr[0]}" "${admin[@]}" --data examples/samples.jsonl --force > /dev/null
event "artclass train through replica 1 made $(fleetctl active -store "$store" | cut -c1-8) active"
watch

read -r _ previous <<< "$(fleetctl active -store "$store")"
artclass models activate "$previous" --addr "${addr[1]}" --token-file "$work/token" > /dev/null
event "artclass models activate through replica 2 rolled back to ${previous:0:8}"
watch

kill -9 "${replica_pid[2]}"
wait "${replica_pid[2]}" 2> /dev/null || true
event "replica 3 killed with SIGKILL"
watch -for 2s
start_replica 2 "${addr[2]}"
event "replica 3 restarted on ${addr[2]}"
watch

event "two trainings at once, through replicas 1 and 2 (corpus halves, --force)"
set +e
artclass train --addr "${addr[0]}" "${admin[@]}" --data "$work/half-a.jsonl" --force > /dev/null 2> "$work/train-1.err" &
t1=$!
artclass train --addr "${addr[1]}" "${admin[@]}" --data "$work/half-b.jsonl" --force > /dev/null 2> "$work/train-2.err" &
t2=$!
wait "$t1"; s1=$?
wait "$t2"; s2=$?
set -e
for r in 1 2; do
	s=s$r
	if [ "${!s}" = 0 ]; then
		event "  training through replica $r won: $(fleetctl active -store "$store" | cut -c1-8) is active"
	else
		event "  training through replica $r lost (exit ${!s}): $(tail -1 "$work/train-$r.err")"
	fi
done
watch

if [ "$use_s3" = 1 ]; then
	kill "$weed_pid"
	wait "$weed_pid" 2> /dev/null || true
	event "S3 server stopped for 10 s; the replicas keep serving what they have"
	watch -for 10s
	start_weed
	event "S3 server started again"
	read -r _ previous <<< "$(fleetctl active -store "$store")"
	artclass models activate "$previous" --addr "${addr[2]}" --token-file "$work/token" > /dev/null
	event "artclass models activate through replica 3 rolled back to ${previous:0:8}"
	watch --timeout 15s
fi

# The trainer trains half the corpus in-process (a few seconds), then
# writes the version (model file, then manifest) and moves the pointer. On
# a directory store the kill comes as soon as the version's directory
# appears, while it is being written; on S3, at a random moment.
versions_now() { { find "$work/store/versions" -mindepth 1 -maxdepth 1 2> /dev/null || true; } | wc -l; }
before=$(versions_now)
artclass train --store "$store" -q --data "$work/half-a.jsonl" --seed 7 --force > /dev/null 2>&1 &
trainer=$!
start=$(date +%s%N)
if [ "$use_s3" = 1 ]; then
	sleep "$((RANDOM % 4)).$((RANDOM % 10))"
else
	while kill -0 "$trainer" 2> /dev/null && [ "$(versions_now)" = "$before" ]; do :; done
fi
kill -9 "$trainer" 2> /dev/null || true
wait "$trainer" 2> /dev/null || true
ms=$((($(date +%s%N) - start) / 1000000))
event "a trainer publishing straight to the store (artclass train --store) killed with SIGKILL after $ms ms"
if [ "$use_s3" = 0 ]; then
	for v in "$work"/store/versions/*/; do
		[ -e "$v/manifest.json" ] || event "  it left $(basename "$v")/ holding [$(ls -A "$v" | tr '\n' ' ' | sed 's/ $//')] and no manifest: invisible to every reader"
	done
fi
event "the store, as artclass models list --store reads it:"
artclass models list --store "$store" | sed 's/^/           /'
watch

kill -TERM "$load_pid"
wait "$load_pid" || true
jq -r '"\(.calls) Classify calls through the round-robin client, \(.failed) failed\(if .first_failure then " (first: " + .first_failure + ")" else "" end)"' "$work/load.json" |
	while read -r line; do event "$line"; done
