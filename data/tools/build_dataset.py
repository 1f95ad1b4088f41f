"""Merge the hand-written batches in data/batches/ into the shipped dataset.

Run from the project root::

    python data/tools/build_dataset.py

What it does, deterministically:
1. reads every ``data/batches/*.jsonl`` (sentences written for the project,
   one batch per theme of the label scheme);
2. drops exact duplicates and, of every near-duplicate pair (character
   3-5-gram TF-IDF cosine >= 0.85), the later sentence, so that no pair is
   left in the set at all;
3. assigns stable ids, the ``source`` note and a seeded 70/15/15 split
   stratified on conception and factor;
4. writes ``data/samskaping-sentences.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from samskaping.data import assign_splits, near_duplicates

ROOT = Path(__file__).resolve().parents[2]
BATCHES = ROOT / "data" / "batches"
OUTPUT = ROOT / "data" / "samskaping-sentences.jsonl"
SOURCE = "written for the samskaping project in the style of a kommuneplan; not quoted from any real plan"
SUBSETS = {
    "b1": "factor",
    "b2": "factor",
    "b3": "factor",
    "b4": "conception",
    "b5": "hard_negative",
    "b6": "plain",
}
SEED = 20261126


def main() -> None:
    rows = []
    for path in sorted(BATCHES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                record["subset"] = SUBSETS[path.name.split("-")[0]]
                rows.append(record)
    frame = pd.DataFrame(rows)
    frame["text"] = frame["text"].str.strip()
    key = frame["text"].str.split().str.join(" ").str.casefold()
    exact = key.duplicated()
    frame = frame[~exact].reset_index(drop=True)
    drop = {j for _, j, _ in near_duplicates(frame["text"].tolist(), threshold=0.85)}
    frame = frame.drop(index=sorted(drop)).reset_index(drop=True)
    frame["split"] = assign_splits(frame, validation_size=0.15, test_size=0.15, seed=SEED)
    frame.insert(0, "id", [f"sk{i + 1:05d}" for i in range(len(frame))])
    frame["source"] = SOURCE
    columns = ["id", "text", "conception", "factor", "polarity", "language", "source", "split", "theme", "subset"]
    with OUTPUT.open("w", encoding="utf-8") as out:
        for record in frame[columns].to_dict(orient="records"):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(rows)} written, {int(exact.sum())} exact and {len(drop)} near duplicates dropped, {len(frame)} kept -> {OUTPUT}")


if __name__ == "__main__":
    main()
