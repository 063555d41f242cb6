"""The simulator's replies to commands (shopfloor.commands: English on the wire) as a sentence
in the page's language.

The reply is rebuilt from its structure (its action and result keys, and the known shapes of
its error texts), never shown raw: a raw reply would put snake_case keys and English on a
Vietnamese page. An error of a shape not known here reads "the simulator refused the command"
with the field it names, so it is never hidden, only less detailed.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from dashboard import fmt
from dashboard.i18n import LABELS, t

_FIXED: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"^not JSON\b", "reply.err.not_json"),
        (r"^set_speed is a plant command\b", "reply.err.plant_command"),
        (r"^truth is a plant command\b", "reply.err.plant_truth"),
        (r"^from_ms \d+ is not before the simulation's now\b", "reply.err.truth_future"),
        (r"^to_ms \d+ is not after this run's start\b", "reply.err.truth_past"),
        (r"^no whole quarter hour between\b", "reply.err.truth_quarter"),
        (r"^this run cannot change its speed$", "reply.err.fixed_speed"),
        (r"^\S+ needs the cmd topic of a machine of this plant$", "reply.err.not_machine"),
    )
)
_TOO_LARGE = re.compile(r"^command larger than (?P<n>\d+) bytes$")
_ANSWER_TOO_LARGE = re.compile(r"^the answer is (?P<size>\d+) bytes, above the (?P<n>\d+) bytes\b")
_NO_LINE = re.compile(r"^no line (?P<lines>.+) in this plant$")
_ALREADY_DOWN = re.compile(r"^(?P<machine>\S+) is already down$")
_FIELD = re.compile(r"^(?P<field>[A-Za-z0-9_.\[\]]+): (?P<why>.+)$")
_NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_BOUND = re.compile(rf"^must be (?P<op>>=|<=|>|<) (?P<limit>{_NUMBER}), got (?P<got>.+)$")
_BELOW_IDEAL = re.compile(rf"^must be >= ideal_cycle_s \((?P<ideal>{_NUMBER})\)")
_REQUIRED_WITH = re.compile(r"^required when (?P<other>\S+) is set$")
_OPS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
# Path prefixes a command's validation puts before the parameter itself.
_PREFIXES = ("set.", "breakdown.", "set_speed.", "values.")


def _num(text: str, lang: str) -> str:
    try:
        return fmt.decimal(float(text.strip("'\"")), lang)
    except ValueError:
        return text


def _bare(path: str) -> str:
    for prefix in _PREFIXES:
        path = path.removeprefix(prefix)
    return path


def _field(path: str, lang: str) -> str:
    return fmt.param(_bare(path), lang)


def _why(text: str, lang: str) -> str:
    if m := _BELOW_IDEAL.match(text):
        return t("reply.err.below_ideal", lang).format(ideal=_num(m["ideal"], lang))
    if m := _BOUND.match(text):
        return t("reply.err.bound", lang).format(
            op=_OPS[m["op"]], limit=_num(m["limit"], lang), got=_num(m["got"], lang)
        )
    if m := _REQUIRED_WITH.match(text):
        return t("reply.err.required_with", lang).format(other=_field(m["other"], lang))
    if text.startswith("needs ") and "changeovers happen per order" in text:
        return t("reply.err.needs_batch", lang)
    if text.startswith(("must be a number", "must be a finite number")):
        return t("reply.err.number", lang)
    if text.startswith("unknown key"):
        return t("reply.err.unknown_key", lang)
    return t("reply.err.invalid", lang)


def error_text(error: str, lang: str, fallback: str | None = None) -> str:
    """A refusal's error text in the page's language; one of a shape not known here reads
    `fallback`, else "the simulator refused the command"."""
    other = t("reply.err.other", lang) if fallback is None else fallback
    for pattern, key in _FIXED:
        if pattern.match(error):
            return t(key, lang)
    if m := _TOO_LARGE.match(error):
        return t("reply.err.too_large", lang).format(n=fmt.integer(int(m["n"]), lang))
    if m := _ANSWER_TOO_LARGE.match(error):
        return t("reply.err.answer_too_large", lang).format(
            size=fmt.integer(int(m["size"]), lang), n=fmt.integer(int(m["n"]), lang)
        )
    if m := _NO_LINE.match(error):
        return t("reply.err.no_line", lang).format(lines=m["lines"])
    if m := _ALREADY_DOWN.match(error):
        return t("reply.err.already_down", lang).format(machine=m["machine"])
    parts = []
    for part in error.split("; "):
        m = _FIELD.match(part)
        if m is None or (fallback is not None and f"param.{_bare(m['field'])}" not in LABELS):
            return other  # with a fallback, only a known parameter's error is reworded
        why = _why(m["why"], lang)
        parts.append(t("reply.err.field", lang).format(field=_field(m["field"], lang), why=why))
    return "; ".join(parts) if parts else other


def result_text(
    action: str | None, result: dict[str, Any], lang: str, tz: tzinfo | None = None
) -> str:
    """What an accepted command did, in the page's language."""
    if action == "set_speed" and "speed" in result:
        return t("reply.ok.set_speed", lang).format(speed=fmt.decimal(result["speed"], lang))
    if action == "breakdown":
        return t("reply.ok.breakdown", lang).format(
            reason=fmt.reason(str(result.get("reason", "")), lang),
            repair=fmt.decimal(float(result.get("repair_min") or 0), lang, 1),
        )
    if action == "set" and isinstance(result.get("values"), dict):
        values = ", ".join(
            f"{fmt.param(k, lang)} = {fmt.decimal(v, lang)}"
            for k, v in result["values"].items()
            if isinstance(v, int | float)
        )
        return t("reply.ok.set", lang).format(values=values)
    plant = result.get("plant")
    if action == "truth" and tz is not None and isinstance(plant, dict):
        a, b = plant.get("from_ms"), plant.get("to_ms")
        if isinstance(a, int) and isinstance(b, int):
            return t("reply.ok.truth", lang).format(
                start=fmt.date_time(a, tz, lang), end=fmt.date_time(b, tz, lang)
            )
    return t("reply.ok.other", lang)


def describe(topic: str, payload: dict[str, Any], prefix: str, tz: tzinfo, lang: str | None) -> str:
    """One reply as `HH:MM:SS who: what`, who being the machine it came from or the plant."""
    lang = lang or "en"
    path = topic.removeprefix(prefix + "/").removesuffix("/reply").removesuffix("cmd")
    who = path.strip("/").rsplit("/", 1)[-1] or t("plant", lang)
    if payload.get("ok"):
        result = payload.get("result")
        what = result_text(
            payload.get("action"), result if isinstance(result, dict) else {}, lang, tz
        )
    else:
        what = t("reply.refused", lang).format(why=error_text(str(payload.get("error", "")), lang))
    ts = payload.get("ts")
    when = fmt.clock_time(ts, tz, lang, seconds=True) + " " if isinstance(ts, int) else ""
    return f"{when}{who}: {what}"
