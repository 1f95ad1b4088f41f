"""Time of the REFI-QDA export (issue 24) on a synthetic corpus of 41 plans, one per Nordland municipality.

    python benchmarks/qdpx_export.py [--plans 41] [--copies 25] [--work DIR]

Offline, one command. The corpus is made from the shipped sample plan: its units (headings, paragraphs,
bullets) repeated ``--copies`` times per plan, with the municipality's name and a goal number put in,
written as ``NNNN-name-samfunnsdel.txt`` (a four-digit kommunenummer in the name). ``predict.py``
classifies it with the default baseline, then ``python -m samskaping.export qdpx`` writes the project;
both are timed (wall clock, the export as the whole command, Python start and imports included) and the
project is checked against ``Project.xsd``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Nordland's 41 municipalities in the 2020 structure (kommunenummer, name)
NORDLAND = [
    ("1804", "Bodø"),
    ("1806", "Narvik"),
    ("1811", "Bindal"),
    ("1812", "Sømna"),
    ("1813", "Brønnøy"),
    ("1815", "Vega"),
    ("1816", "Vevelstad"),
    ("1818", "Herøy"),
    ("1820", "Alstahaug"),
    ("1822", "Leirfjord"),
    ("1824", "Vefsn"),
    ("1825", "Grane"),
    ("1826", "Hattfjelldal"),
    ("1827", "Dønna"),
    ("1828", "Nesna"),
    ("1832", "Hemnes"),
    ("1833", "Rana"),
    ("1834", "Lurøy"),
    ("1835", "Træna"),
    ("1836", "Rødøy"),
    ("1837", "Meløy"),
    ("1838", "Gildeskål"),
    ("1839", "Beiarn"),
    ("1840", "Saltdal"),
    ("1841", "Fauske"),
    ("1845", "Sørfold"),
    ("1848", "Steigen"),
    ("1851", "Lødingen"),
    ("1853", "Evenes"),
    ("1856", "Røst"),
    ("1857", "Værøy"),
    ("1859", "Flakstad"),
    ("1860", "Vestvågøy"),
    ("1865", "Vågan"),
    ("1866", "Hadsel"),
    ("1867", "Bø"),
    ("1868", "Øksnes"),
    ("1870", "Sortland"),
    ("1871", "Andøy"),
    ("1874", "Moskenes"),
    ("1875", "Hamarøy"),
]


def sample_units() -> list[tuple[str, str]]:
    """(unit, text) of the shipped sample plan, as the tool reads it."""
    from samskaping.documents import read_sentences

    plan = min((ROOT / "data" / "sample-plans").glob("eksempelkommune-samfunnsdel.*"))
    return [(s.unit, s.text) for s in read_sentences(plan)]


def plan_text(units: list[tuple[str, str]], name: str, copies: int) -> str:
    """One synthetic plan: the sample's units ``copies`` times, as a .txt the reader splits the same way."""
    blocks: list[str] = []
    for copy in range(copies):
        paragraph: list[str] = []
        for unit, text in units:
            text = text.replace("Eksempelkommune", name).replace("Mål ", f"Mål {copy + 1}.")
            if unit != "paragraph" and paragraph:
                blocks.append(" ".join(paragraph))
                paragraph = []
            if unit == "heading":
                blocks.append(f"{text} ({copy + 1})")
            elif unit == "bullet":
                blocks.append(f"- {text}")
            else:
                paragraph.append(text)
        if paragraph:
            blocks.append(" ".join(paragraph))
    return "\n\n".join(blocks) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=41)
    parser.add_argument("--copies", type=int, default=25, help="times the sample's units are repeated per plan")
    parser.add_argument("--work", type=Path, help="folder for the corpus and outputs (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="samskaping-qdpx-"))
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    units = sample_units()
    for number, name in NORDLAND[: args.plans]:
        slug = name.lower().replace("ø", "o").replace("æ", "ae").replace("å", "a")
        (corpus / f"{number}-{slug}-samfunnsdel.txt").write_text(plan_text(units, name, args.copies), encoding="utf-8")
    out = work / "out"
    started = time.perf_counter()
    subprocess.run([sys.executable, "predict.py", str(corpus), "--output", str(out), "--quiet"], cwd=ROOT, check=True)
    predict_s = time.perf_counter() - started
    project = work / "plans.qdpx"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "samskaping.export", "qdpx", str(out), "--output", str(project), "--quiet"],
        cwd=ROOT,
        check=True,
    )
    export_s = time.perf_counter() - started

    from lxml import etree

    from samskaping.export.qdpx import schema

    with zipfile.ZipFile(project) as archive:
        root = etree.fromstring(archive.read("project.qde"))
        sources = sum(1 for n in archive.namelist() if n.startswith("sources/"))
    assert schema("Project").validate(root), "the project does not validate"
    selections = len(root.findall(".//{urn:QDA-XML:project:1.0}PlainTextSelection"))
    with open(out / "sentences.csv", encoding="utf-8-sig") as table:
        sentences = sum(1 for _ in table) - 1
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if line.startswith("Model name")
        ),
        "?",
    )
    print(
        f"{sources} plans, {sentences} sentences, {selections} coded; predict.py {predict_s:.1f} s; "
        f"export {export_s:.1f} s ({project.stat().st_size / 1e6:.1f} MB .qdpx); CPU {cpu}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
