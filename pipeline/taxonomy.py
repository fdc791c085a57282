"""Loads and validates a taxonomy YAML (topics, the `other` id, kinds) into a Taxonomy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import checksum_obj, load_yaml
from pipeline.errors import DiaoyanError

DEFAULT_KINDS = ["problem", "achievement", "suggestion", "other"]
KIND_NAMES = {"problem": "问题", "achievement": "成效", "suggestion": "建议", "other": "其他"}


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    description: str = ""
    seed_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    name: str
    topics: tuple[Topic, ...]
    other: str | None
    kinds: tuple[str, ...] = tuple(DEFAULT_KINDS)
    raw: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def topic_ids(self) -> list[str]:
        return [t.id for t in self.topics]

    @property
    def labels(self) -> list[str]:
        """Every label the topic model may output, in report order."""
        return self.topic_ids + ([self.other] if self.other else [])

    def name_of(self, topic_id: str) -> str:
        for t in self.topics:
            if t.id == topic_id:
                return t.name
        return "其他" if topic_id == self.other else topic_id

    def id_of_name(self, value: str) -> str | None:
        """Accept either an id or a Chinese name (what analysts see in the quote table)."""
        for t in self.topics:
            if value in (t.id, t.name):
                return t.id
        if self.other and value in (self.other, "其他"):
            return self.other
        return None

    @property
    def checksum(self) -> str:
        return checksum_obj(self.raw)


def _need_str(value, key: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DiaoyanError(f"taxonomy key {key!r} must be a non-empty string, got {value!r}",
                           path=source)
    return value.strip()


def parse_taxonomy(data, source: str = "<taxonomy>") -> Taxonomy:
    """Validate a parsed YAML mapping; every problem names the offending key."""
    if not isinstance(data, dict):
        raise DiaoyanError("taxonomy must be a mapping with 'name' and 'topics'", path=source)
    name = _need_str(data.get("name", "未命名"), "name", source)
    topics_raw = data.get("topics")
    if not isinstance(topics_raw, list) or not topics_raw:
        raise DiaoyanError("taxonomy key 'topics' must be a non-empty list", path=source)
    topics, seen = [], set()
    for i, item in enumerate(topics_raw):
        if not isinstance(item, dict):
            raise DiaoyanError(f"taxonomy key 'topics[{i}]' must be a mapping with id and name",
                               path=source)
        tid = _need_str(item.get("id"), f"topics[{i}].id", source)
        if tid in seen:
            raise DiaoyanError(f"taxonomy key 'topics[{i}].id' repeats the id {tid!r}",
                               path=source, hint="every topic id must be unique")
        seen.add(tid)
        tname = _need_str(item.get("name", tid), f"topics[{i}].name", source)
        seeds = item.get("seed_terms") or []
        if not isinstance(seeds, list) or not all(isinstance(s, str) and s.strip() for s in seeds):
            raise DiaoyanError(f"taxonomy key 'topics[{i}].seed_terms' must be a list of strings",
                               path=source)
        desc = item.get("description") or ""
        if not isinstance(desc, str):
            raise DiaoyanError(f"taxonomy key 'topics[{i}].description' must be a string",
                               path=source)
        topics.append(Topic(tid, tname, desc, tuple(s.strip() for s in seeds)))
    other = data.get("other")
    if other is not None:
        other = _need_str(other, "other", source)
        if other in seen:
            raise DiaoyanError(f"taxonomy key 'other' ({other!r}) repeats a topic id", path=source)
    kinds = data.get("kinds", DEFAULT_KINDS)
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) and k for k in kinds):
        raise DiaoyanError("taxonomy key 'kinds' must be a non-empty list of strings", path=source)
    if len(set(kinds)) != len(kinds):
        raise DiaoyanError("taxonomy key 'kinds' has duplicates", path=source)
    return Taxonomy(name, tuple(topics), other, tuple(kinds), raw=data)


def load_taxonomy(path: Path) -> Taxonomy:
    return parse_taxonomy(load_yaml(path), str(path))
