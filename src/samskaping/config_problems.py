"""The one message of an invalid config: every problem, the key, the rule and the value, and where it came from.

A problem names the config file, or the ``--set KEY=VALUE`` that gave the key; an unknown key gets a
"did you mean" and the keys allowed at its place.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError


def describe_problems(exc: ValidationError, schema: type[BaseModel], source: str, overrides: dict[str, str]) -> str:
    """All problems of ``exc`` in one message (one line when there is one problem).

    Args:
        exc: pydantic's error from validating against ``schema``.
        schema: the config model validated against (for the keys allowed where a key is unknown).
        source: the config file named for problems that no override caused.
        overrides: dotted key -> the ``--set`` text that gave it.
    """
    problems = [(_origin(e, source, overrides), _describe(e, schema)) for e in exc.errors()]
    if len(problems) == 1:
        origin, problem = problems[0]
        return f"{origin}: {problem}"
    if len({origin for origin, _ in problems}) == 1:
        listing = "\n".join(f"  - {p}" for _, p in problems)
        return f"{problems[0][0]}: {len(problems)} problems:\n{listing}"
    listing = "\n".join(f"  - {origin}: {p}" for origin, p in problems)
    return f"{len(problems)} problems:\n{listing}"


def _allowed_keys(model: type[BaseModel], path: tuple[str, ...]) -> list[str]:
    """Keys allowed at ``path`` inside ``model`` (empty if path leaves the schema)."""
    for part in path:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def did_you_mean(given: str, allowed: list[str] | tuple[str, ...]) -> str | None:
    """The allowed word closest to ``given``: a case slip first (``c`` -> ``C``), else difflib's best match."""
    folded = [a for a in allowed if a.casefold() == given.casefold()]
    if folded:
        return folded[0]
    found = difflib.get_close_matches(given, list(allowed), n=1)
    return found[0] if found else None


def _describe(error: dict[str, Any], schema: type[BaseModel]) -> str:
    loc = tuple(str(p) for p in error["loc"])
    key = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(schema, loc[:-1])
        hint = did_you_mean(loc[-1], allowed)
        did_you_mean_text = f" (did you mean '{'.'.join((*loc[:-1], hint))}'?)" if hint else ""
        return f"unknown key '{key}'{did_you_mean_text}; allowed here: {', '.join(allowed)}"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    shown = "" if isinstance(given, dict) or given is None else f" (got {given!r})"
    return f"{key}: {message}{shown}"


def _origin(error: dict[str, Any], source: str, overrides: dict[str, str]) -> str:
    """``--set KEY=VALUE`` when the failing key came from an override, else the config file."""
    key = ".".join(str(p) for p in error["loc"])
    for dotted, text in overrides.items():
        if key == dotted or key.startswith(dotted + ".") or dotted.startswith(key + "."):
            return f"--set {text}"
    return source


__all__ = ["describe_problems", "did_you_mean"]
