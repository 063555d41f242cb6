"""pydantic errors as `key.path: reason` lines a user can act on (configs, commands, payloads)."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class whose field list applies at `loc` (for 'did you mean' hints)."""
    tp: Any = root
    for part in loc:
        tp = unwrap(tp)
        if isinstance(part, int):
            args = typing.get_args(tp)
            tp = args[0] if args else None
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        else:
            return None
    tp = unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated so lists and models show through."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0]
        else:
            return tp


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _reason(err: dict[str, Any], root: type[BaseModel]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    loc = err["loc"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(root, loc[:-1])
        hint = ""
        if model is not None:
            close = difflib.get_close_matches(key, list(model.model_fields), n=1)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
            else:
                hint = f" (allowed: {', '.join(model.model_fields)})"
        return f"unknown key{hint}"
    bounds = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        shown = f"{limit:g}" if isinstance(limit, int | float) else limit
        return f"must be {bounds[kind]} {shown}, got {_show(got)}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        if str(ctx.get("pattern", "")).startswith(r"^\d{4}-"):  # LocalDateTime (issue 12)
            return f"must be a local date-time YYYY-MM-DD HH:MM, got {_show(got)}"
        if "([01]" in str(ctx.get("pattern", "")):
            return f"must be a 24-hour clock time HH:MM, got {_show(got)}"
        return f"must be letters, digits, '-', '_' or '.' (no '/', '+', '#' or spaces), got {_show(got)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {_show(got)}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number, got {_show(got)}"
    if kind in ("float_parsing", "float_type"):
        return f"must be a number, got {_show(got)}"
    if kind == "finite_number":
        return "must be a finite number"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping of keys, got {_show(got)}"
    if kind == "list_type":
        return f"must be a list, got {_show(got)}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg'][:1].lower()}{err['msg'][1:]}, got {_show(got)}"


def format_errors(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    return [f"{format_loc(tuple(e['loc']))}: {_reason(dict(e), root)}" for e in exc.errors()]
