"""Loads configs/default.yaml, applies dotted-key overrides, resolves paths from the repo root."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import DiaoyanError

PROJ_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJ_ROOT / "configs" / "default.yaml"


def load_yaml(path: Path) -> Any:
    """Read a YAML file, turning syntax errors into a message with line and column."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DiaoyanError("file not found", path=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise DiaoyanError(f"invalid YAML: {getattr(err, 'problem', err)}", path=str(path),
                           line=mark.line + 1 if mark else None,
                           column=mark.column + 1 if mark else None) from None


def parse_override(item: str) -> tuple[list[str], Any]:
    """'classifier.C=0.5' → (['classifier', 'C'], 0.5); the value is parsed as YAML."""
    if "=" not in item:
        raise DiaoyanError(f"override {item!r} needs the form key.sub=value",
                           hint="e.g. --set classifier.C=0.5")
    key, _, raw = item.partition("=")
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else ""


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """Return a copy of cfg with each dotted override set; unknown keys are an error."""
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        keys, value = parse_override(item)
        node = cfg
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                raise DiaoyanError(f"unknown config section {'.'.join(keys)!r}",
                                   hint="see configs/default.yaml for the keys")
            node = node[key]
        if keys[-1] not in node:
            raise DiaoyanError(f"unknown config key {'.'.join(keys)!r}",
                               hint="see configs/default.yaml for the keys")
        node[keys[-1]] = value
    return cfg


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> dict:
    """The resolved pipeline config: defaults file plus overrides."""
    cfg = load_yaml(path or DEFAULT_CONFIG)
    if not isinstance(cfg, dict):
        raise DiaoyanError("config must be a mapping", path=str(path or DEFAULT_CONFIG))
    return apply_overrides(cfg, overrides or [])


def resolve(path: str | Path) -> Path:
    """A config path made absolute against the repo root (absolute paths pass through)."""
    path = Path(path)
    return path if path.is_absolute() else PROJ_ROOT / path


def checksum_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksum_file(path: Path) -> str:
    return checksum_bytes(Path(path).read_bytes())


def checksum_obj(obj: Any) -> str:
    """Stable checksum of a JSON-serialisable object (config, taxonomy)."""
    return checksum_bytes(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8"))
