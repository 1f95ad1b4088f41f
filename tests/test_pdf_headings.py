"""PDF headings (issue 19, point 6): a real PDF with headings set larger or bold gives the TXT version's heading units.

The PDFs are written with fpdf2: body text in DejaVu Sans 11 pt, headings either
5 pt larger in the same face, or bold at the body size, or a numbered section line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plan_files import Heading, dejavu_font_path, make_plan_pdf, make_plan_txt
from samskaping.documents import read_sentences

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = [
    Heading("Samskaping som arbeidsform"),
    (
        "Kommunen kan ikke løse samfunnsutfordringene alene. Vi vil derfor samskape løsninger med innbyggere, "
        "frivillige lag og foreninger og næringslivet."
    ),
    Heading("Mål og strategier"),
    "Kommunen skal utvikle fritidstilbudene sammen med barn og unge. Biblioteket skal bli en åpen møteplass.",
    Heading("Oppfølging"),
    "Planen følges opp gjennom handlingsdelen, som rulleres årlig.",
]


def _units(path: Path) -> list[tuple[str, str, str]]:
    return [(s.unit, s.heading, s.text) for s in read_sentences(path)]


def _bold_pdf(path: Path, blocks: list) -> Path:
    """Headings in DejaVu Sans Bold at the body's size (11 pt), body in the regular face."""
    from fpdf import FPDF

    regular = dejavu_font_path()
    pdf = FPDF(format="A4")
    pdf.add_font("plan", fname=str(regular))
    pdf.add_font("plan", style="B", fname=str(regular.with_name("DejaVuSans-Bold.ttf")))
    pdf.add_page()
    for block in blocks:
        if isinstance(block, Heading):
            pdf.set_font("plan", style="B", size=11)
        else:
            pdf.set_font("plan", size=11)
        pdf.multi_cell(0, 6, block.text if isinstance(block, Heading) else block, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    pdf.output(str(path))
    return path


def test_larger_headings_in_a_pdf_are_the_txt_versions_headings(tmp_path: Path) -> None:
    pdf = make_plan_pdf(tmp_path / "plan.pdf", [BLOCKS[:4], BLOCKS[4:]])  # headings 16 pt, body 11 pt, two pages
    txt = make_plan_txt(tmp_path / "plan.txt", BLOCKS)
    assert _units(pdf) == _units(txt)
    assert [text for unit, _, text in _units(pdf) if unit == "heading"] == [
        "Samskaping som arbeidsform",
        "Mål og strategier",
        "Oppfølging",
    ]
    assert {heading for unit, heading, _ in _units(pdf) if unit == "paragraph"} == {
        "Samskaping som arbeidsform",
        "Mål og strategier",
        "Oppfølging",
    }


def test_bold_headings_at_the_body_size_are_headings(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # the bold DejaVu face comes with matplotlib
    pdf = _bold_pdf(tmp_path / "bold.pdf", BLOCKS)
    txt = make_plan_txt(tmp_path / "plan.txt", BLOCKS)
    assert _units(pdf) == _units(txt)


def test_numbered_section_lines_are_headings_and_short_body_lines_are_not(tmp_path: Path) -> None:
    long = (
        "Kommunen skal legge til rette for at lag, foreninger og innbyggere kan ta ansvar for møteplasser i "
        "bygdene, og vi vil gi dem gratis lokaler, enkel søknad om tilskudd og en fast kontaktperson i kommunen. "
    ) * 3
    blocks = ["3.2 Levende lokalsamfunn", long.strip(), "Mål 1: Gode levekår for alle.", "Kort avsnitt uten punktum"]
    pdf = make_plan_pdf(tmp_path / "numbered.pdf", [blocks], header=None, footer=None, page_number=None)
    kinds = [(s.unit, s.text) for s in read_sentences(pdf)]
    assert kinds[0] == ("heading", "3.2 Levende lokalsamfunn")
    # body-size lines with no section number stay paragraphs, even when short
    assert {unit for unit, _ in kinds[1:]} == {"paragraph"}
    assert kinds[-2:] == [("paragraph", "Mål 1: Gode levekår for alle."), ("paragraph", "Kort avsnitt uten punktum")]


def test_the_sample_plan_pdf_has_the_six_headings_of_its_txt_version() -> None:
    pdf = _units(ROOT / "data" / "sample-plans" / "eksempelkommune-samfunnsdel.pdf")
    txt = _units(ROOT / "data" / "sample-plan-text" / "eksempelkommune-samfunnsdel.txt")
    assert sum(unit == "heading" for unit, _, _ in pdf) == 6
    assert pdf == txt
