#!/usr/bin/env bash
# cli.sh measures `artclass classify -o jsonl` end to end against a local
# artclassd: a JSONL file of 10,000 articles (../shared/data/news/dev.jsonl
# repeated) and one ten times larger, plaintext on loopback. It prints the
# articles per second and the CLI's peak resident memory (GNU time's %M) for
# each, so that memory can be seen not to grow with the input.
#
# Usage: bash bench/cli.sh [-j N]...     (extra flags go to artclass classify)
# Output: a summary on stdout; the inputs and outputs under bench/out/cli/.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=${ARTCLASS_DEV:-../shared/data/news/dev.jsonl}
if [ ! -f "$dev" ]; then
	echo "cli.sh: $dev is absent; skipping the CLI benchmark"
	exit 0
fi
if [ ! -x /usr/bin/time ]; then
	echo "cli.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2
	exit 1
fi
out=bench/out/cli
mkdir -p "$out" bin
go build -o bin/artclassd ./cmd/artclassd
go build -o bin/artclass ./cmd/artclass

# n articles: dev.jsonl over and over, cut at n lines.
make_input() {
	local n=$1 file=$2
	python3 - "$dev" "$n" > "$file" <<'PY'
import sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
out = sys.stdout
for i in range(n):
    out.write(lines[i % len(lines)])
PY
}
make_input 10000 "$out/10k.jsonl"
make_input 100000 "$out/100k.jsonl"

addr=127.0.0.1:50071
bin/artclassd --listen "$addr" --http-listen "" --log-level warn > "$out/artclassd.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
until bin/artclass health --addr "$addr" --timeout 1s > /dev/null 2>&1; do
	sleep 0.01
done

# One warm-up run so that both sides have their connections and caches.
bin/artclass classify --addr "$addr" -o jsonl "$@" "$out/10k.jsonl" > /dev/null

echo "artclass classify -o jsonl $* against artclassd on $addr ($(nproc) CPUs, both on this machine)"
printf '%-8s %10s %8s %14s %12s\n' input articles seconds articles/s "peak RSS"
for name in 10k 100k; do
	for run in 1 2 3; do
		start=$(date +%s%N)
		/usr/bin/time -o "$out/time.txt" -f %M bin/artclass classify --addr "$addr" -o jsonl "$@" "$out/$name.jsonl" > "$out/$name.out.jsonl"
		end=$(date +%s%N)
		n=$(wc -l < "$out/$name.out.jsonl")
		secs=$(python3 -c "print(f'{($end - $start) / 1e9:.3f}')")
		rate=$(python3 -c "print(f'{$n / (($end - $start) / 1e9):,.0f}')")
		rss=$(python3 -c "print(f'{$(cat "$out/time.txt") / 1024:.1f} MB')")
		printf '%-8s %10s %8s %14s %12s\n' "$name" "$n" "$secs" "$rate" "$rss"
	done
done
