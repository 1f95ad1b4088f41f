"""Builders for small, real plan documents (PDF, DOCX, HTML, TXT) used in tests.

A document is described as a list of blocks: a ``str`` is a paragraph, and
:class:`Heading`, :class:`Bullets` and :class:`Table` are the other kinds. A
PDF takes one such list per page. Inside a PDF paragraph, ``"\\n"`` forces a
line break (to put a hyphenated word at a line end); longer lines wrap.

Import as ``from plan_files import make_plan_pdf, ...`` with ``tests/`` on the
Python path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HEADER = "Kommuneplanens samfunnsdel 2024–2036"
DEFAULT_FOOTER = "Eksempelkommune"
DEFAULT_PAGE_NUMBER = "Side {page} av {total}"


@dataclass(frozen=True)
class Heading:
    """A heading line."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bullet list; each item is one string."""

    items: Sequence[str]


@dataclass(frozen=True)
class Table:
    """A table given row by row; every row has the same number of cells."""

    rows: Sequence[Sequence[str]]


Block = str | Heading | Bullets | Table


def dejavu_font_path() -> Path:
    """Return a DejaVuSans.ttf (covers æøå, «», –, •) from matplotlib or the system.

    Raises:
        FileNotFoundError: If neither matplotlib nor fonts-dejavu-core provides it.
    """
    candidates = []
    try:
        import matplotlib

        candidates.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:
        pass
    candidates.append(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("DejaVuSans.ttf not found; install matplotlib or the Debian package fonts-dejavu-core")


def toc_line(title: str, page: int, dots: int = 30) -> str:
    """A table-of-contents entry with dot leaders: «Innledning ....... 3»."""
    return f"{title} {'.' * dots} {page}"


def make_plan_pdf(
    path: Path,
    pages: Sequence[Sequence[Block]],
    header: str | None = DEFAULT_HEADER,
    footer: str | None = DEFAULT_FOOTER,
    page_number: str | None = DEFAULT_PAGE_NUMBER,
    font_size: float = 11,
) -> Path:
    """Write a multi-page A4 PDF with a real text layer.

    Args:
        path: Where to write the file.
        pages: One list of blocks per page; each list starts a new page.
        header: Running header at the top of every page (``None`` for none).
        footer: Running footer line at the bottom of every page (``None`` for none).
        page_number: Format of the page-number line under the footer, with
            ``{page}`` and ``{total}`` (``None`` for none).
        font_size: Body font size in points.

    Returns:
        ``path``.
    """
    from fpdf import FPDF

    class _PlanPdf(FPDF):
        def header(self) -> None:
            if header:
                self.set_font("plan", size=9)
                self.cell(0, 6, header, new_x="LMARGIN", new_y="NEXT")
                self.ln(6)

        def footer(self) -> None:
            self.set_y(-20)
            self.set_font("plan", size=9)
            if footer:
                self.cell(0, 5, footer, align="C", new_x="LMARGIN", new_y="NEXT")
            if page_number:
                text = page_number.format(page=self.page_no(), total="{nb}")
                self.cell(0, 5, text, align="C")

    pdf = _PlanPdf(format="A4")
    pdf.set_auto_page_break(auto=True, margin=25)
    pdf.add_font("plan", fname=str(dejavu_font_path()))
    line_height = font_size * 0.55  # mm; about 1.55 x the font size
    for blocks in pages:
        pdf.add_page()
        for block in blocks:
            _pdf_block(pdf, block, font_size, line_height)
    pdf.output(str(path))
    return path


def _pdf_block(pdf: object, block: Block, font_size: float, line_height: float) -> None:
    """Draw one block followed by a paragraph gap."""
    from fpdf.fonts import FontFace

    full = {"new_x": "LMARGIN", "new_y": "NEXT"}
    if isinstance(block, Heading):
        pdf.set_font("plan", size=font_size + 5)
        pdf.multi_cell(0, line_height * 1.4, block.text, align="L", **full)
    elif isinstance(block, Bullets):
        pdf.set_font("plan", size=font_size)
        for item in block.items:
            pdf.multi_cell(0, line_height, f"• {item}", **full)
    elif isinstance(block, Table):
        pdf.set_font("plan", size=font_size)
        # Headings in plain style: only the regular DejaVu face is registered.
        with pdf.table(headings_style=FontFace(emphasis=None)) as table:
            for cells in block.rows:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
    else:
        pdf.set_font("plan", size=font_size)
        pdf.multi_cell(0, line_height, block, **full)
    pdf.ln(line_height * 0.8)


def make_plan_docx(path: Path, blocks: Sequence[Block]) -> Path:
    """Write a DOCX with paragraphs, headings, Word bullet lists and tables.

    Args:
        path: Where to write the file.
        blocks: The document body, in order.

    Returns:
        ``path``.
    """
    import docx

    document = docx.Document()
    for block in blocks:
        if isinstance(block, Heading):
            document.add_heading(block.text, level=1)
        elif isinstance(block, Bullets):
            for item in block.items:
                document.add_paragraph(item, style="List Bullet")
        elif isinstance(block, Table):
            table = document.add_table(rows=len(block.rows), cols=len(block.rows[0]))
            for row, cells in zip(table.rows, block.rows, strict=True):
                for cell, text in zip(row.cells, cells, strict=True):
                    cell.text = text
        else:
            document.add_paragraph(block)
    document.save(str(path))
    return path


def make_plan_html(path: Path, blocks: Sequence[Block], title: str = "Kommuneplanens samfunnsdel") -> Path:
    """Write an HTML page with the blocks inside <main>, plus site boilerplate
    (nav menu, header, footer, script, style) that extraction must drop.

    Args:
        path: Where to write the file.
        blocks: The page content, in order.
        title: The page title.

    Returns:
        ``path``.
    """
    from html import escape

    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h2>{escape(block.text)}</h2>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            rows = "".join(
                "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>" for cells in block.rows
            )
            body.append(f"<table>{rows}</table>")
        else:
            body.append(f"<p>{escape(block)}</p>")
    page = f"""<!DOCTYPE html>
<html lang="nb"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body {{ font-family: sans-serif; }}</style>
<script>var meny = "Denne teksten er skript og skal bort.";</script></head>
<body>
<header><a href="/">Eksempelkommune forside</a> Søk i nettstedet</header>
<nav><ul><li><a href="/planer">Planer og styringsdokumenter</a></li>
<li><a href="/kontakt">Kontakt oss</a></li></ul></nav>
<main><h1>{escape(title)}</h1>
{chr(10).join(body)}
</main>
<footer>Eksempelkommune, Rådhusgata 1. Telefon 12 34 56 78.</footer>
<script>console.log("Sporingsskript som skal bort.");</script>
</body></html>
"""
    Path(path).write_text(page, encoding="utf-8")
    return path


def make_plan_txt(path: Path, blocks: Sequence[Block]) -> Path:
    """Write a plain-text plan: blank lines between blocks, «- » bullets, « | » table rows.

    Args:
        path: Where to write the file (``.txt`` or ``.md``).
        blocks: The document, in order.

    Returns:
        ``path``.
    """
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            parts.append("\n".join("| " + " | ".join(cells) + " |" for cells in block.rows))
        else:
            parts.append(block)
    Path(path).write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path
