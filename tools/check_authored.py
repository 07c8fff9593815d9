"""Check authored JSONL files: schema, labels, and 15-character overlaps.

Usage: python tools/check_authored.py [FILE ...]   (default: data/authored/*.jsonl)
Overlaps are checked against the seed articles and every record in data/authored/.
"""

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = {"talent_exodus", "safety_vs_commercialization", "competition", "finance", "lawsuits"}
RUN = 15


def grams(text: str) -> set[str]:
    return {text[i : i + RUN] for i in range(len(text) - RUN + 1)}


def main() -> int:
    all_files = sorted((ROOT / "data" / "authored").glob("*.jsonl"))
    targets = [Path(a).resolve() for a in sys.argv[1:]] or all_files
    owners: dict[str, set[str]] = {}
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        for n, line in enumerate(seed.read_text(encoding="utf-8").splitlines(), 1):
            for g in grams(line):
                owners.setdefault(g, set()).add(f"seed {seed.stem}:{n}")
    records: list[tuple[Path, int, dict]] = []
    problems = 0
    for path in all_files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                if path.resolve() in targets:
                    print(f"{path.name}:{n}: invalid JSON: {exc}")
                    problems += 1
                continue
            records.append((path, n, rec))
    for path, n, rec in records:
        for g in grams(rec.get("text", "")):
            owners.setdefault(g, set()).add(f"{path.name}:{n}")
    ids = Counter(r.get("id") for _, _, r in records)
    counts: Counter[str] = Counter()
    for path, n, rec in records:
        mine = path.resolve() in targets
        where = f"{path.name}:{n}"
        text = rec.get("text", "")
        if mine:
            for key in ("id", "text", "labels", "source", "script"):
                if key not in rec:
                    print(f"{where}: missing field {key!r}")
                    problems += 1
            if ids[rec.get("id")] > 1:
                print(f"{where}: duplicate id {rec.get('id')!r}")
                problems += 1
            labels = rec.get("labels")
            if labels is not None:
                bad = set(labels) - LABELS
                if bad:
                    print(f"{where}: unknown labels {sorted(bad)}")
                    problems += 1
                for lab in labels:
                    counts[lab] += 1
                counts["(none)" if not labels else "(any)"] += 1
                counts["(multi)" if len(labels) > 1 else "(single-or-none)"] += 1
            counts[f"script={rec.get('script')}"] += 1
        if not mine:
            continue
        reported: set[str] = set()
        for g in sorted(grams(text)):
            for other in sorted(owners[g] - {where} - reported):
                reported.add(other)
                print(f"{where}: shares {g!r} with {other}")
                problems += 1
    print(f"{problems} problems; counts over checked files: {dict(sorted(counts.items()))}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
