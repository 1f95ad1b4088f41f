"""Plan documents -> cleaned text units with page numbers -> Norwegian sentences.

One module per format behind a suffix registry, each imported only when a file
of its kind is read (:mod:`~samskaping.documents.reader`):

==========  =========================================
``.pdf``    :mod:`samskaping.documents.pdf`
``.docx``   :mod:`samskaping.documents.docx`
``.html``   :mod:`samskaping.documents.html` (also ``.htm``)
``.txt``    :mod:`samskaping.documents.text`
``.md``     :mod:`samskaping.documents.markdown`
==========  =========================================

Every reader returns a :class:`~samskaping.documents.document.Document`: its
units, the encoding of a text file and its reading notes (what was read only in
part). Shared line rules live in :mod:`~samskaping.documents.lines`,
segmentation in :mod:`~samskaping.documents.sentences`; sentence tables given
as prediction input (CSV, JSONL, XLSX) are read by :mod:`~samskaping.documents.tables`.
:func:`read_document` reads one file; :func:`read_sentences` segments it and
gives every sentence its page, the kind of unit it came from, the nearest
heading above it and, for a list item, the lead-in of its list (clarification
15 of the label scheme).

Every problem with an input file raises :class:`~samskaping.errors.DocumentError`
with one line naming the file, the problem and the fix; a document never comes
back silently empty.
"""

from samskaping.documents.document import Document, Sentence, reading_notes
from samskaping.documents.lines import TextUnit
from samskaping.documents.reader import (
    DOCUMENT_SUFFIXES,
    NOT_READ_SUFFIXES,
    READERS,
    extract_units,
    read_document,
    read_sentences,
    segment,
    unsupported_hint,
)
from samskaping.documents.sentences import split_sentences

__all__ = [
    "DOCUMENT_SUFFIXES",
    "NOT_READ_SUFFIXES",
    "READERS",
    "Document",
    "Sentence",
    "TextUnit",
    "extract_units",
    "read_document",
    "read_sentences",
    "reading_notes",
    "segment",
    "split_sentences",
    "unsupported_hint",
]
