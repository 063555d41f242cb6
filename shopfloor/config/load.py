"""Read a plant config file and turn every problem into `key.path: reason` lines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shopfloor.config import production, semantics
from shopfloor.config.schema import PlantConfig
from shopfloor.validation import format_errors


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read the state key `off` (and
    on/yes/no) as a boolean, turning `power_kw: {off: 0.0}` into `{False: 0.0}`."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# Nor sexagesimal integers: YAML 1.1 reads an unquoted `14:00` as 840.
_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for ch, resolvers in _Loader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F]+|0o[0-7]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class ConfigError(Exception):
    """A config that cannot be used. `errors` holds one `path: reason` string per problem."""

    def __init__(self, source: str, errors: list[str]):
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(errors))

    def render(self) -> str:
        n = len(self.errors)
        head = f"{self.source}: {n} error{'s' if n != 1 else ''}"
        return "\n".join([head, *(f"  {e}" for e in self.errors)])


def parse_config(data: Any, source: str = "config") -> PlantConfig:
    """Validate already-parsed YAML/JSON data; raise ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): must be a mapping of keys"])
    try:
        cfg = PlantConfig.model_validate(data)
    except ValidationError as exc:
        errors = format_errors(exc, PlantConfig)
        raise ConfigError(source, errors) from None
    findings = semantics.check(cfg)
    if findings:
        raise ConfigError(source, [f"{p}: {r}" for p, r in findings])
    return cfg


def read_yaml(path: str | Path) -> Any:
    """The YAML 1.2 data of a file (a plant config, a scenarios file); raises ConfigError
    naming the file when it cannot be read or parsed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found"]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [f"cannot read: {exc}"]) from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(p), [f"{where}YAML syntax error: {problem}"]) from None


def load_config(path: str | Path) -> PlantConfig:
    data = read_yaml(path)
    production.resolve_csv_path(data, Path(path).parent)  # orders.csv beside the config
    return parse_config(data, str(Path(path)))
