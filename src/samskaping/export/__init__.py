"""Results into the researcher's own tools: a coded REFI-QDA project (``.qdpx``) and the codebook (``.qdc``).

Source: the REFI-QDA standard 1.5 (QDA-XML 1.0, www.qdasoftware.org), which NVivo, ATLAS.ti, MAXQDA
and QualCoder import. ``python -m samskaping.export qdpx OUT --output plans.qdpx`` writes the project of
a ``predict.py`` output folder; ``python -m samskaping.export qdc --output samskaping.qdc`` the codebook;
:mod:`samskaping.export.reader` reads a project back (for ``python -m samskaping.review import``).
"""
