"""Merge the hand-written batches in data/batches/ into the shipped dataset.

Run from the project root::

    python data/tools/build_dataset.py

What it does, deterministically:

1. reads the first-round batches ``b1``–``b6`` and keeps, for every row the
   shipped file already holds, its id and split (so earlier results stay
   comparable); rows the first round dropped as near-duplicates stay dropped;
2. reads the real-style batches ``b07``+ (written for the project in the
   language of real plans; every row records its ``form``), drops exact
   duplicates and near-duplicates (character 3-5-gram TF-IDF cosine >= 0.85)
   of any earlier row, and gives the rest new ids and a seeded 70/15/15 split
   stratified on conception and factor;
3. applies the label corrections of the audit (``data/audit/corrections.jsonl``:
   id, the corrected labels, the reason), each checked against the row's text;
4. adds the definitions round ``b12`` (definitions of co-creation labelled by
   clarification 20 of the label scheme) the same way as step 2, with ids after
   the last one and a split of its own, so the rows and splits of the earlier
   rounds stay as they were;
5. adds the real-errors round ``b13`` (written against the six error patterns of the
   second check on real text) the same way, with ids after the last one and a split of its own;
   its rows carry ``heading`` (the section heading), ``previous`` (the sentence before) and
   ``pattern`` (0 = ordinary, 1-6 = the error pattern targeted), which earlier rows get as "",
   "" and 0; the batches' ``hard_negative`` meant "hard case for a pattern" (``pattern`` keeps
   that), so it is recomputed by the card's rule (factor none with factor words);
6. adds the stated-purpose definitions round ``b14`` (definitions of co-creation for pattern 6,
   mostly ``democratic`` ones whose purpose is shared problem definition, responsibility and
   decisions) the same way, with ids after the last one, a split of its own and ``hard_negative``
   recomputed by the card's rule;
7. writes ``data/samskaping-sentences.jsonl``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from samskaping.data import assign_splits, near_duplicates

ROOT = Path(__file__).resolve().parents[2]
BATCHES = ROOT / "data" / "batches"
OUTPUT = ROOT / "data" / "samskaping-sentences.jsonl"
CORRECTIONS = ROOT / "data" / "audit" / "corrections.jsonl"
SOURCE = "written for the samskaping project in the style of a kommuneplan; not quoted from any real plan"
FIRST_ROUND = {"b1": "factor", "b2": "factor", "b3": "factor", "b4": "conception", "b5": "hard_negative", "b6": "plain"}
# later rounds, each split on its own so that adding one never moves a row of an earlier one between splits
LATER_ROUNDS = (("b07", "b08", "b09", "b10", "b11"), ("b12",), ("b13",), ("b14",))
# rounds whose batches used ``hard_negative`` for "hard case for a pattern": recomputed by the card's rule
HARD_NEGATIVE_BY_RULE = {"b13", "b14"}
SEED = 20261129
# Factor words of the label scheme that real plans use without naming a condition (issue 10's hard negatives).
FACTOR_WORDS = re.compile(
    r"tillit|kompetans|ressurs|forankr|på tvers|\brolle|\broll[ae]r|møteplass|møtestad|dialog|kapasitet|relasjon|"
    r"samhandling|helhetlig|heilskapleg|ansvar|mandat|medvirkning|medverknad|innbyggerinvolvering",
    re.IGNORECASE,
)
COLUMNS = [
    "id",
    "text",
    "conception",
    "factor",
    "polarity",
    "language",
    "source",
    "split",
    "theme",
    "subset",
    "form",
    "context",
    "heading",
    "previous",
    "hard_negative",
    "pattern",
    "note",
]


def read_batch(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def key(text: str) -> str:
    return " ".join(text.split()).casefold()


def first_round(shipped: pd.DataFrame) -> pd.DataFrame:
    """The rows of b1-b6 that the shipped file holds, with their ids and splits."""
    known = {key(t): (i, s) for i, t, s in zip(shipped["id"], shipped["text"], shipped["split"], strict=True)}
    rows = []
    for path in sorted(BATCHES.glob("b[1-6]-*.jsonl")):
        for record in read_batch(path):
            found = known.get(key(record["text"]))
            if found is None:
                continue  # dropped as a near-duplicate in the first round
            record.update(
                {
                    "id": found[0],
                    "split": found[1],
                    "subset": FIRST_ROUND[path.name.split("-")[0]],
                    "form": "original",
                    "context": "",
                    "heading": "",
                    "previous": "",
                    "pattern": 0,
                    "note": "",
                }
            )
            record["hard_negative"] = record["factor"] == "none" and bool(FACTOR_WORDS.search(record["text"]))
            rows.append(record)
    frame = pd.DataFrame(rows).drop_duplicates("id")
    return frame.set_index("id").loc[shipped["id"]].reset_index()


def is_hard_negative(frame: pd.DataFrame) -> pd.Series:
    """The card's rule: factor none, but the text uses factor words."""
    return (frame["factor"] == "none") & frame["text"].str.contains(FACTOR_WORDS)


def real_style(existing: pd.DataFrame, batches: tuple[str, ...], seed: int = SEED) -> tuple[pd.DataFrame, int, int]:
    """The rows of ``batches`` that are not (near-)duplicates of anything before them, with new ids and splits."""
    rows = []
    for path in sorted(p for p in BATCHES.glob("b*.jsonl") if p.name.split("-")[0] in batches):
        for record in read_batch(path):
            record["subset"] = "real_style"
            record.setdefault("context", "")
            record.setdefault("note", "")
            record.setdefault("heading", "")
            record.setdefault("previous", "")
            record.setdefault("pattern", 0)
            rows.append(record)
    new = pd.DataFrame(rows)
    if HARD_NEGATIVE_BY_RULE.intersection(batches):
        new["hard_negative"] = is_hard_negative(new)
    new["text"] = new["text"].str.strip()
    seen = set(existing["text"].map(key))
    exact = new["text"].map(key).duplicated() | new["text"].map(key).isin(seen)
    new = new[~exact].reset_index(drop=True)
    texts = existing["text"].tolist() + new["text"].tolist()
    offset = len(existing)
    drop = {j - offset for i, j, _ in near_duplicates(texts, threshold=0.85) if j >= offset}
    new = new.drop(index=sorted(drop)).reset_index(drop=True)
    new["split"] = assign_splits(new, validation_size=0.15, test_size=0.15, seed=seed)
    first = int(existing["id"].str[2:].astype(int).max()) + 1
    new.insert(0, "id", [f"sk{first + i:05d}" for i in range(len(new))])
    return new, int(exact.sum()), len(drop)


def apply_corrections(frame: pd.DataFrame) -> int:
    """Apply the audit's corrections in place; every correction must name a row and its text."""
    if not CORRECTIONS.is_file():
        return 0
    by_id = frame.set_index("id")
    count = 0
    for line in CORRECTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        fix = json.loads(line)
        if fix["id"] not in by_id.index:
            raise SystemExit(f"{CORRECTIONS}: unknown id {fix['id']}")
        if key(by_id.at[fix["id"], "text"]) != key(fix["text"]):
            raise SystemExit(f"{CORRECTIONS}: the text of {fix['id']} does not match the data")
        for column in ("conception", "factor", "polarity"):
            by_id.at[fix["id"], column] = fix[column]
        count += 1
    frame[["conception", "factor", "polarity"]] = by_id.loc[
        frame["id"], ["conception", "factor", "polarity"]
    ].to_numpy()
    return count


def main() -> None:
    shipped = pd.read_json(OUTPUT, lines=True, dtype=False)
    old = first_round(shipped[shipped["subset"] != "real_style"] if "subset" in shipped else shipped)
    frame, added, exact, near = old, 0, 0, 0
    for batches in LATER_ROUNDS:
        new, dropped_exact, dropped_near = real_style(frame, batches)
        frame = pd.concat([frame, new], ignore_index=True)
        added, exact, near = added + len(new), exact + dropped_exact, near + dropped_near
    frame["source"] = SOURCE
    corrected = apply_corrections(frame)
    frame["hard_negative"] = frame["hard_negative"].astype(bool)
    frame["pattern"] = frame["pattern"].astype(int)
    if CORRECTIONS.is_file():  # a corrected row is a hard negative by the same rule as the first round's rows
        fixed = {
            json.loads(line)["id"] for line in CORRECTIONS.read_text(encoding="utf-8").splitlines() if line.strip()
        }
        rows = frame["id"].isin(fixed)
        frame.loc[rows, "hard_negative"] = is_hard_negative(frame[rows])
    with OUTPUT.open("w", encoding="utf-8") as out:
        for record in frame[COLUMNS].to_dict(orient="records"):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(
        f"{len(old)} first-round rows kept; {added} real-style rows added ({exact} exact and {near} near duplicates "
        f"dropped); {corrected} labels corrected by the audit; {len(frame)} rows -> {OUTPUT}"
    )


if __name__ == "__main__":
    main()
