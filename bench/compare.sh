#!/usr/bin/env bash
# Trains artclass and the scikit-learn baseline on the same train.jsonl,
# scores both on dev.jsonl and on the project's long evaluation set
# (testdata/longeval, never trained on) in the same run, and prints both
# reports, long (300+ words, title and text) and short items apart. Then
# bench/lengtheval prints artclass's figures per length for the model
# trained on train.jsonl and for the embedded default model.
# Needs Debian's python3-sklearn (apt-get install -y python3-sklearn).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${SHARED:-../shared}/data/news
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Long is 300+ words, as classifier.LongArticleWords; words split on white
# space as strings.Fields does.
/usr/bin/python3 - "$data/dev.jsonl" "$out" testdata/longeval/*.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
words = lambda r: len(r.get("title", "").split()) + len(r["text"].split())
for name, keep in (("long", lambda r: words(r) >= 300), ("short", lambda r: words(r) < 300)):
    with open(f"{sys.argv[2]}/dev-{name}.jsonl", "w") as f:
        for r in rows:
            if keep(r):
                f.write(json.dumps(r) + "\n")
with open(f"{sys.argv[2]}/longeval.jsonl", "w") as f:
    for path in sys.argv[3:]:
        for line in open(path):
            if line.strip():
                f.write(line.rstrip("\n") + "\n")
PY
go build -o "$out/artclass" ./cmd/artclass
echo "== artclass: train on train.jsonl (time and peak RSS)"
/usr/bin/time -f "train wall %es, peak RSS %M KB" "$out/artclass" train --force --data "$data/train.jsonl" --out "$out/shared.model" --created 2026-01-01T00:00:00Z
ls -l "$out/shared.model" | awk '{print "model file bytes:", $5}'
for set in dev dev-long dev-short longeval; do
  f="$data/$set.jsonl"; [ -f "$f" ] || f="$out/$set.jsonl"
  echo "== $set: artclass"
  "$out/artclass" eval --data "$f" --model "$out/shared.model" -o json
  echo "== $set: scikit-learn TfidfVectorizer + OneVsRest LinearSVC"
  /usr/bin/python3 bench/baseline.py "$data/train.jsonl" "$f"
done
echo "== embedded default model (trained on testdata/corpus only) on dev and longeval"
"$out/artclass" eval --data "$data/dev.jsonl" -o json
"$out/artclass" eval --data "$out/longeval.jsonl" -o json
echo "== artclass per length: bench/lengtheval"
go run ./bench/lengtheval --shared "$data"
