#!/usr/bin/env bash
# Trains artclass and the scikit-learn baseline on the same train.jsonl,
# scores both on dev.jsonl in the same run, and prints both reports, long
# (bbc-fulltext, 1,000+ characters) and short items apart.
# Needs Debian's python3-sklearn (apt-get install -y python3-sklearn).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${SHARED:-../shared}/data/news
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
/usr/bin/python3 - "$data/dev.jsonl" "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for name, keep in (("long", lambda r: len(r["text"]) >= 1000), ("short", lambda r: len(r["text"]) < 1000)):
    with open(f"{sys.argv[2]}/dev-{name}.jsonl", "w") as f:
        for r in rows:
            if keep(r):
                f.write(json.dumps(r) + "\n")
PY
go build -o "$out/artclass" ./cmd/artclass
echo "== artclass: train on train.jsonl (time and peak RSS)"
/usr/bin/time -f "train wall %es, peak RSS %M KB" "$out/artclass" train --data "$data/train.jsonl" --out "$out/shared.model" --created 2026-01-01T00:00:00Z
ls -l "$out/shared.model" | awk '{print "model file bytes:", $5}'
for set in dev dev-long dev-short; do
  f="$data/$set.jsonl"; [ -f "$f" ] || f="$out/$set.jsonl"
  echo "== $set: artclass"
  "$out/artclass" eval --data "$f" --model "$out/shared.model" -o json
  echo "== $set: scikit-learn TfidfVectorizer + OneVsRest LinearSVC"
  /usr/bin/python3 bench/baseline.py "$data/train.jsonl" "$f"
done
echo "== embedded default model (trained on testdata/corpus only) on dev"
"$out/artclass" eval --data "$data/dev.jsonl" -o json
