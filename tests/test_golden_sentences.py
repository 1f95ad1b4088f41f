"""Golden files: the shipped sample plans segment exactly as they did before the segmentation rules of issue 12.

The golden files were written from the code as it stood before any change to
``sentences.py``; a change to the rules that moves one boundary of a plan that
reads correctly today fails here. Regenerate them only for a reviewed, intended change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samskaping.documents import read_sentences

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
# the PDF is the sample folder's one plan; its text version sits beside it, out of the default input folder
SAMPLES = sorted(
    [
        *(ROOT / "data" / "sample-plans").glob("eksempelkommune-*"),
        *(ROOT / "data" / "sample-plan-text").glob("eksempelkommune-*"),
    ]
)


@pytest.mark.parametrize("plan", SAMPLES, ids=lambda p: p.name)
def test_sample_plan_sentences_unchanged(plan: Path) -> None:
    expected = json.loads((GOLDEN / f"{plan.name}.sentences.json").read_text(encoding="utf-8"))
    got = [
        {"page": s.page, "unit": s.unit, "heading": s.heading, "context": s.context, "text": s.text}
        for s in read_sentences(plan)
    ]
    assert [g["text"] for g in got] == [e["text"] for e in expected]
    assert got == expected


def test_both_sample_plans_are_covered() -> None:
    assert {p.name for p in SAMPLES} == {
        "eksempelkommune-samfunnsdel.pdf",
        "eksempelkommune-samfunnsdel.txt",
    }
