"""Builders of hostile inputs (issue 22), generated at test time and small on disk.

Each file is made to hurt a reader in one way: a PDF content stream that
inflates to gigabytes, a page tree that declares a million pages, a .docx
embedded in a .docx (``w:altChunk``) whose body is a ZIP bomb, an XLSX sheet
that inflates hugely, a CSV with a cell of tens of megabytes. Compressed data
is written in chunks, so building a file never needs the inflated size in memory.

Import as ``from hostile_files import ...`` with ``tests/`` on the Python path.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from case_files import alt_chunk, docx_bytes, p, pdf_page, pdf_text_stream, pdf_with_page_tree, r

MB = 1024 * 1024
_CHUNK = 16 * MB
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def deflated(fill: bytes, size: int, head: bytes = b"", tail: bytes = b"", raw: bool = False) -> bytes:
    """``head`` + ``size`` bytes of ``fill`` repeated + ``tail``, deflated in chunks (zlib, or raw for ZIP)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15 if raw else 15)
    out = [packer.compress(head)]
    block = (fill * (_CHUNK // len(fill) + 1))[:_CHUNK]
    left = size
    while left > 0:
        out.append(packer.compress(block[: min(left, _CHUNK)]))
        left -= _CHUNK
    out.append(packer.compress(tail))
    out.append(packer.flush())
    return b"".join(out)


def flate_bomb_pdf(path: Path, inflated_mb: int) -> Path:
    """A one-page PDF whose content stream (FlateDecode) inflates to ``inflated_mb`` MB of spaces."""
    data = deflated(b" ", inflated_mb * MB, head=b"BT /F1 12 Tf 72 760 Td (Kommunen vil samskape.) Tj ET\n")
    stream = f"<< /Length {len(data)} /Filter /FlateDecode >>\nstream\n".encode("latin-1") + data + b"\nendstream"
    # the stream's bytes are not latin-1 text: assemble the file around a placeholder
    marker = "@@STREAM@@"
    pdf = pdf_with_page_tree("3 0 R", {3: pdf_page(4), 4: marker}, count=1)
    head, _, tail = pdf.partition(marker.encode("latin-1"))
    # the offsets in the cross-reference table after the stream move by the stream's length
    body = head + stream + tail
    return _fix_xref(path, body)


def _fix_xref(path: Path, pdf: bytes) -> Path:
    """Rewrite the cross-reference table of a PDF whose objects moved (offsets found by searching)."""
    import re

    start = pdf.rindex(b"xref\n")
    objects = pdf[:start]
    offsets = {int(m.group(1)): m.start() for m in re.finditer(rb"(?m)^(\d+) 0 obj\n", objects)}
    size = max(offsets) + 1
    table = bytearray(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
    for number in range(1, size):
        table += (f"{offsets[number]:010d} 00000 n \n" if number in offsets else "0000000000 00000 f \n").encode()
    trailer = f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{start}\n%%EOF\n".encode()
    path.write_bytes(objects + bytes(table) + trailer)
    return path


def million_page_pdf(path: Path, declared: int = 1_000_000) -> Path:
    """A PDF with one real page whose page tree declares ``declared`` pages."""
    page = pdf_text_stream(["Kommunen vil samskape med innbyggerne."])
    path.write_bytes(pdf_with_page_tree("3 0 R", {3: pdf_page(4), 4: page}, count=declared))
    return path


def _zip_with_huge_part(parts: dict[str, bytes], name: str, head: bytes, fill: bytes, size: int, tail: bytes) -> bytes:
    """A ZIP holding ``parts`` and a part ``name`` that inflates to about ``size`` bytes (deflated in chunks)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, content in parts.items():
            if part != name:
                archive.writestr(part, content)
        with archive.open(name, "w", force_zip64=True) as handle:
            handle.write(head)
            block = (fill * (_CHUNK // len(fill) + 1))[:_CHUNK]
            left = size
            while left > 0:
                handle.write(block[: min(left, _CHUNK)])
                left -= _CHUNK
            handle.write(tail)
    return buffer.getvalue()


def zip_parts(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def docx_bomb(inflated_mb: int) -> bytes:
    """A DOCX whose word/document.xml inflates to ``inflated_mb`` MB (whitespace inside the body)."""
    parts = zip_parts(docx_bytes(p(r("x"))))
    xml = parts["word/document.xml"]
    cut = xml.index(b"<w:body>") + len(b"<w:body>")
    return _zip_with_huge_part(parts, "word/document.xml", xml[:cut], b" ", inflated_mb * MB, xml[cut:])


def alt_chunk_bomb_docx(path: Path, inflated_mb: int) -> Path:
    """A DOCX with one readable paragraph and an embedded .docx (``w:altChunk``) that is a ZIP bomb."""
    body = p(r("Kommunen vil samskape med frivillige lag.")) + alt_chunk("rIdBomb")
    path.write_bytes(docx_bytes(body, chunks={"rIdBomb": ("inner.docx", DOCX_MIME, docx_bomb(inflated_mb))}))
    return path


def xlsx_bomb(path: Path, inflated_mb: int) -> Path:
    """A sentence table (XLSX) whose first sheet inflates to ``inflated_mb`` MB of empty rows' whitespace."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["text"])
    sheet.append(["Kommunen vil samskape."])
    buffer = io.BytesIO()
    book.save(buffer)
    parts = zip_parts(buffer.getvalue())
    xml = parts["xl/worksheets/sheet1.xml"]
    cut = xml.index(b"<sheetData>") + len(b"<sheetData>")
    path.write_bytes(
        _zip_with_huge_part(parts, "xl/worksheets/sheet1.xml", xml[:cut], b" ", inflated_mb * MB, xml[cut:])
    )
    return path


def huge_cell_csv(path: Path, cell_mb: int) -> Path:
    """A sentence table whose second data row (row 3 in a spreadsheet) holds a ``text`` cell of ``cell_mb`` MB."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("text\nKommunen vil samskape med innbyggerne.\n")
        handle.write("Stor celle " + "a" * (cell_mb * MB) + "\n")
        handle.write("Frivillige lag er viktige partnere.\n")
    return path
