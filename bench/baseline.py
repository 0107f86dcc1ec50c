#!/usr/bin/python3
"""scikit-learn baseline for artclass: TF-IDF + one-vs-rest LinearSVC.

Trains TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english") and
OneVsRestClassifier(LinearSVC()) on TRAIN and prints its dev figures as one
JSON object with the keys `artclass eval -o json` uses, plus timings. ECE is
computed on the SVM's decision function squashed by a sigmoid, since
LinearSVC gives no probabilities; that is the baseline a data scientist
would first reach for, not a calibrated one.

Usage: /usr/bin/python3 bench/baseline.py TRAIN.jsonl DEV.jsonl
"""
import json
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score, precision_recall_fscore_support, hamming_loss, accuracy_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC


def load(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    return [(r.get("title", "") + "\n" + r["text"]) for r in rows], [r["labels"] for r in rows]


def ece(y, conf, bins=10):
    y, conf = y.ravel(), conf.ravel()
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(y) * abs(y[m].mean() - conf[m].mean())
    return total


def main():
    train_x, train_y = load(sys.argv[1])
    dev_x, dev_y = load(sys.argv[2])
    mlb = MultiLabelBinarizer()
    ytr = mlb.fit_transform(train_y)
    ydev = mlb.transform(dev_y)
    t0 = time.time()
    vec = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english")
    clf = OneVsRestClassifier(LinearSVC())
    clf.fit(vec.fit_transform(train_x), ytr)
    train_s = time.time() - t0
    t0 = time.time()
    xd = vec.transform(dev_x)
    pred = clf.predict(xd)
    dec = clf.decision_function(xd)
    per_doc_us = (time.time() - t0) / len(dev_x) * 1e6
    p, r, f, s = precision_recall_fscore_support(ydev, pred, zero_division=0)
    out = {
        "n": len(dev_x),
        "micro_f1": f1_score(ydev, pred, average="micro", zero_division=0),
        "macro_f1": f1_score(ydev, pred, average="macro", zero_division=0),
        "exact_match": accuracy_score(ydev, pred),
        "hamming_loss": hamming_loss(ydev, pred),
        "ece": ece(ydev, 1 / (1 + np.exp(-dec))),
        "per_label": {l: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])} for i, l in enumerate(mlb.classes_)},
        "train_seconds": train_s,
        "classify_us_per_doc": per_doc_us,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
