"""The label sets of the project, mirrored from ``docs/label-scheme.md``.

The order of the labels in each tuple is the order of the classifier outputs
and of the probability columns in every output file; it never changes between
model types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

CONCEPTION: tuple[str, ...] = ("service", "democratic", "innovation", "none")
FACTOR: tuple[str, ...] = (
    "concept_role",
    "resources",
    "social_process",
    "roles_power",
    "holistic",
    "anchoring",
    "none",
)
POLARITY: tuple[str, ...] = ("promoting", "hindering", "none")

LABEL_SETS: dict[str, tuple[str, ...]] = {
    "conception": CONCEPTION,
    "factor": FACTOR,
    "polarity": POLARITY,
}
LABEL_SET_NAMES: tuple[str, ...] = tuple(LABEL_SETS)
NONE = "none"

# Norwegian names shown to readers of reports; the data keeps the English keys.
NORWEGIAN: dict[str, dict[str, str]] = {
    "conception": {
        "service": "Tjenesteproduksjon",
        "democratic": "Demokratisk deltakelse",
        "innovation": "Samarbeidsdrevet innovasjon",
        "none": "Ingen samskaping",
    },
    "factor": {
        "concept_role": "Forståelse av begrep og egen rolle",
        "resources": "Overskudd og ressurser",
        "social_process": "Samskaping som sosial prosess",
        "roles_power": "Avklarte roller og maktstrukturer",
        "holistic": "Helhetstenkning",
        "anchoring": "Forankring",
        "none": "Ingen faktor",
    },
    "polarity": {"promoting": "Fremmer", "hindering": "Hemmer", "none": "Ingen"},
}
LABEL_SET_NORWEGIAN: dict[str, str] = {
    "conception": "Forståelse av samskaping",
    "factor": "Faktor",
    "polarity": "Fremmer/hemmer",
}


def labels_of(label_set: str) -> tuple[str, ...]:
    """Return the labels of ``label_set`` in output order.

    Raises:
        KeyError: if ``label_set`` is not one of :data:`LABEL_SET_NAMES`.
    """
    return LABEL_SETS[label_set]


def encode(label_set: str, values: Sequence[str]) -> list[int]:
    """Map label strings to class indices of ``label_set``."""
    index = {label: i for i, label in enumerate(LABEL_SETS[label_set])}
    return [index[v] for v in values]


def decode(label_set: str, indices: Sequence[int]) -> list[str]:
    """Map class indices of ``label_set`` back to label strings."""
    labels = LABEL_SETS[label_set]
    return [labels[int(i)] for i in indices]


def polarity_is_consistent(factor: str, polarity: str) -> bool:
    """True when polarity is ``none`` exactly when factor is ``none``."""
    return (factor == NONE) == (polarity == NONE)


def probability_columns(label_sets: Sequence[str]) -> list[str]:
    """Names of the per-class probability columns, e.g. ``conception_p_service``."""
    return [f"{ls}_p_{label}" for ls in label_sets for label in LABEL_SETS[ls]]


def norwegian(label_set: str, label: str) -> str:
    """The Norwegian display name of ``label`` (the key itself if unknown)."""
    return NORWEGIAN.get(label_set, {}).get(label, label)


def check_label_sets(names: Sequence[str]) -> list[str]:
    """Return the names in ``names`` that are not known label sets."""
    return [n for n in names if n not in LABEL_SETS]


def as_mapping() -> Mapping[str, tuple[str, ...]]:
    """A read-only view of all label sets (for saving with a model)."""
    return dict(LABEL_SETS)


# Norwegian words people type for the English label keys (bokmål and nynorsk), for «did you mean».
NORWEGIAN_WORDS: dict[str, dict[str, str]] = {
    "conception": {
        "tjeneste": "service",
        "tjenester": "service",
        "teneste": "service",
        "tenester": "service",
        "tjenesteproduksjon": "service",
        "tenesteproduksjon": "service",
        "demokratisk": "democratic",
        "demokrati": "democratic",
        "deltakelse": "democratic",
        "innovasjon": "innovation",
        "ingen": "none",
    },
    "factor": {
        "begrep": "concept_role",
        "rolle": "concept_role",
        "forståelse": "concept_role",
        "kompetanse": "concept_role",
        "ressurser": "resources",
        "ressurs": "resources",
        "ressursar": "resources",
        "overskudd": "resources",
        "kapasitet": "resources",
        "tid": "resources",
        "sosial": "social_process",
        "tillit": "social_process",
        "relasjoner": "social_process",
        "makt": "roles_power",
        "roller": "roles_power",
        "maktstrukturer": "roles_power",
        "helhet": "holistic",
        "helhetstenkning": "holistic",
        "heilskap": "holistic",
        "helhetlig": "holistic",
        "forankring": "anchoring",
        "ingen": "none",
    },
    "polarity": {
        "fremmer": "promoting",
        "fremmende": "promoting",
        "fremjar": "promoting",
        "hemmer": "hindering",
        "hemmende": "hindering",
        "hemmar": "hindering",
        "ingen": "none",
    },
}


def suggest_label(label_set: str, value: str) -> str | None:
    """The label someone probably meant: a case or spacing slip, a Norwegian word, or a close spelling."""
    import difflib

    allowed = LABEL_SETS.get(label_set, ())
    key = value.strip().casefold().replace(" ", "_").replace("-", "_")
    if key in allowed:
        return key
    norwegian_words = NORWEGIAN_WORDS.get(label_set, {})
    if key in norwegian_words:
        return norwegian_words[key]
    display = {name.casefold(): label for label, name in NORWEGIAN.get(label_set, {}).items()}
    if key.replace("_", " ") in display:
        return display[key.replace("_", " ")]
    close = difflib.get_close_matches(key, [*allowed, *norwegian_words], n=1, cutoff=0.75)
    if close:
        return close[0] if close[0] in allowed else norwegian_words[close[0]]
    return None
