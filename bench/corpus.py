"""Synthetic inputs for the benchmark, all derived from the repository's data with a fixed seed.

Every generated text is distinct, so no measurement is helped by the per-text token cache
in `train.tokens`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED_DATA = Path("data/paragraphs.jsonl")
AUTHORED_DIR = Path("data/authored")
USER_DICT = Path("data/userdict.txt")

# A fragment ends at (and keeps) a full stop, exclamation, question mark or semicolon.
_FRAGMENT_END = re.compile(r"(?<=[。！？；])")


@dataclass(frozen=True)
class Seed:
    """One labeled record of data/paragraphs.jsonl."""

    id: str
    text: str
    labels: tuple[str, ...]

    @property
    def stem(self) -> str:
        """The seed article: the id without its `:<line>` suffix (train.data.Record.group)."""
        return self.id.rsplit(":", 1)[0]

    @property
    def line(self) -> str:
        return self.id.rsplit(":", 1)[1]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8-sig") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def seed_texts() -> list[str]:
    """Texts of data/paragraphs.jsonl and data/authored/*.jsonl, labeled or not."""
    paths = [SEED_DATA, *sorted(AUTHORED_DIR.glob("*.jsonl"))]
    return [str(row["text"]) for path in paths for row in read_jsonl(path)]


def labeled_seeds() -> list[Seed]:
    return [
        Seed(str(row["id"]), str(row["text"]), tuple(row["labels"]))
        for row in read_jsonl(SEED_DATA)
        if row.get("labels") is not None
    ]


def fragments(text: str) -> list[str]:
    """Sentence fragments of a paragraph, split after 。！？；."""
    return [piece.strip() for piece in _FRAGMENT_END.split(text) if piece.strip()]


def synthetic_paragraphs(texts: list[str], rng: random.Random) -> Iterator[str]:
    """Endless distinct paragraphs, each 2-3 fragments taken from different seed paragraphs."""
    by_paragraph = [frags for frags in (fragments(t) for t in texts) if frags]
    seen: set[str] = set()
    while True:
        sources = rng.sample(by_paragraph, rng.randint(2, 3))
        text = "".join(rng.choice(frags) for frags in sources)
        if text not in seen:
            seen.add(text)
            yield text


def write_corpus(path: Path, n: int, seed: int = 0) -> int:
    """Write n distinct synthetic paragraphs as {"id", "text"} JSONL; return the UTF-8 bytes of the texts."""
    paragraphs = synthetic_paragraphs(seed_texts(), random.Random(seed))
    text_bytes = 0
    with path.open("w", encoding="utf-8") as out:
        for number in range(n):
            text = next(paragraphs)
            text_bytes += len(text.encode("utf-8"))
            out.write(json.dumps({"id": f"bench:{number}", "text": text}, ensure_ascii=False) + "\n")
    return text_bytes


def write_big_input(path: Path, target_bytes: int, seed: int = 1) -> int:
    """A JSONL of distinct synthetic paragraphs of about target_bytes; return its line count.

    Fresh paragraphs rather than repeated ones, so the per-text token cache in the
    predicting process fills as it would on real input.
    """
    paragraphs = synthetic_paragraphs(seed_texts(), random.Random(seed))
    written = lines = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target_bytes:
            row = json.dumps({"id": f"big:{lines}", "text": next(paragraphs)}, ensure_ascii=False) + "\n"
            out.write(row)
            written += len(row.encode("utf-8"))
            lines += 1
    return lines


def perturb(seed: Seed, filler: list[str], rng: random.Random, extra: int) -> str:
    """The seed text with its sentences possibly shuffled and `extra` filler fragments appended."""
    parts = fragments(seed.text) or [seed.text]
    if len(parts) > 1 and rng.random() < 0.5:
        rng.shuffle(parts)
    return "".join(parts) + "".join(rng.choice(filler) for _ in range(extra))


def write_scaled_labeled(path: Path, factor: int, seed: int = 2) -> int:
    """data/paragraphs.jsonl with each labeled record present `factor` times; return the record count.

    Copy 0 is the original record. Copy k >= 1 has its sentence order shuffled (half the
    time) and fragments of topic-free paragraphs (`"labels": []`) appended, differs from
    every other text in the file, keeps the labels, and has id `<article stem>:x<k>-<line>`:
    train.data's group (the id before the last colon) stays the seed article, so grouped
    CV stays meaningful.
    """
    rng = random.Random(seed)
    seeds = labeled_seeds()
    filler = [f for s in seeds if not s.labels for f in fragments(s.text)]
    seen = {record.text for record in seeds}  # every copy differs from every other text in the file
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for record in seeds:
            rows = [{"id": record.id, "text": record.text, "labels": list(record.labels)}]
            for k in range(1, factor):
                attempts = 0
                text = perturb(record, filler, rng, extra=1)
                while text in seen:  # a collision: retry, appending more fragments as they pile up
                    attempts += 1
                    text = perturb(record, filler, rng, extra=1 + attempts // 3)
                seen.add(text)
                rows.append({"id": f"{record.stem}:x{k}-{record.line}", "text": text, "labels": list(record.labels)})
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += len(rows)
    return count
