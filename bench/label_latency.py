"""`train label` as a person meets it: `python bench/label_latency.py [--model M]` from the repository root.

Runs the real console script in a pseudo-terminal (pexpect) over a queue of distinct
synthetic unlabeled paragraphs and prints:
  * start-up: from spawning the process to the first paragraph's id on screen, fresh
    processes, median and worst; that includes loading the model and ranking the whole queue;
  * per keystroke, key sent → the changed line arriving on the terminal: a digit (tick a
    label, screen only), Enter (accept: the data file rewritten atomically, then the next
    paragraph drawn), u (undo: the file rewritten back);
  * keystrokes per paragraph: Enter alone accepts the model's guess, and every label the guess
    gets wrong costs one digit more; measured against data/eval/heldout.jsonl, which the
    benchmark's model never trained on.

Without --model, a model is fitted first on data/paragraphs.jsonl and data/authored (about 30 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pexpect

# `python bench/label_latency.py` puts bench/, not the repository root, on the import path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus, measure
from bench.report import Row, table
from bench.run import fit_model, log, train

HELDOUT = Path("data/eval/heldout.jsonl")
SIZE = (30, 100)  # rows, columns: what the labeler's terminal is assumed to be
SETTLE_SECONDS = 0.15  # quiet time after an update before the next key, so no match is stale
TIMEOUT_SECONDS = 60.0


def spawn(data: Path, model: Path) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color"}
    command = train("label", "--data", str(data), "--model", str(model))
    child = pexpect.spawn(command[0], command[1:], dimensions=SIZE, encoding="utf-8", env=env, timeout=TIMEOUT_SECONDS)
    child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default: it would count as latency
    return child


def settle(child: pexpect.spawn) -> None:
    """Read whatever the terminal still gets until it has been quiet for SETTLE_SECONDS."""
    while True:
        try:
            child.read_nonblocking(1 << 16, timeout=SETTLE_SECONDS)
        except pexpect.TIMEOUT:
            return


def quit_session(child: pexpect.spawn) -> None:
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    if child.exitstatus != 0:
        raise measure.CommandFailed(["train", "label"], child.exitstatus or -1, str(child.before))


def start_up(data: Path, model: Path, first_id: str, runs: int) -> list[float]:
    """Seconds from spawning `train label` to the first paragraph's id on screen, one fresh process per run."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        child = spawn(data, model)
        child.expect_exact(f"paragraph {first_id}")
        seconds.append(time.perf_counter() - start)
        settle(child)
        quit_session(child)
    return seconds


def timed_key(child: pexpect.spawn, key: str, shows: str) -> float:
    """Seconds from sending `key` to `shows` arriving on the terminal."""
    settle(child)
    start = time.perf_counter()
    child.send(key)
    child.expect_exact(shows)
    return time.perf_counter() - start


def keystrokes(data: Path, model: Path, first_id: str, presses: int) -> dict[str, list[float]]:
    """One session: `presses` digit ticks, then `presses` accepts with Enter, then undoes of them."""
    child = spawn(data, model)
    child.expect_exact(f"paragraph {first_id}")
    ticks: list[float] = []
    for _ in range(presses):
        # Both states of label 1's box, so each press is timed to its own change.
        ticks.append(timed_key(child, "1", "[x]  1"))
        ticks.append(timed_key(child, "1", "[ ]  1"))
    accepts = [timed_key(child, "\r", f"{n} labeled · ") for n in range(1, presses + 1)]
    undoes = [timed_key(child, "u", f"{n} labeled · ") for n in range(presses - 1, -1, -1)]
    quit_session(child)
    return {"tick (digit)": ticks, "accept (Enter, file written)": accepts, "undo (u, file written)": undoes}


def keys_per_paragraph(model: Path) -> tuple[float, float, int]:
    """Mean keys per heldout paragraph (Enter + one digit per label the guess gets wrong), the share
    taking one key, and the paragraphs counted."""
    from train.predict import Paragraph, load_tagger, tag

    tagger = load_tagger(str(model))
    rows = list(corpus.read_jsonl(HELDOUT))
    truth = {str(row["id"]): set(row["labels"]) for row in rows}
    tagged = tag(tagger, [Paragraph(str(row["id"]), str(row["text"])) for row in rows])
    keys = [1 + len(set(t.labels) ^ truth[t.id]) for t in tagged]
    return statistics.mean(keys), sum(k == 1 for k in keys) / len(keys), len(keys)


def first_in_queue(data: Path, model: Path) -> str:
    from train.labeling import open_session
    from train.labels import LABELS_PATH
    from train.predict import load_tagger

    current = open_session([data], load_tagger(str(model)), LABELS_PATH).current
    assert current is not None
    return current.id


def ms_rows(name: str, seconds: list[float], note: str = "") -> list[Row]:
    def row(stat: str, pick: Callable[[list[float]], float], extra: str = "") -> Row:
        return Row(f"{name}: {stat}", pick(seconds) * 1000, "ms", None, "", extra)

    return [row("median", measure.median, note), row("p95", lambda s: measure.percentile(s, 95)), row("max", max)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model to label with [default: fit one first]")
    parser.add_argument("--paragraphs", type=int, default=1000, help="unlabeled paragraphs in the queue")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes timed for start-up")
    parser.add_argument("--presses", type=int, default=20, help="timed presses of each key")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-label-") as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            log("fitting a model (train fit, one CV repeat)")
            model, _ = fit_model(work)
        data = work / "queue.jsonl"
        corpus.write_corpus(data, args.paragraphs)  # records without labels: all unlabeled
        first_id = first_in_queue(data, model)
        log(f"start-up: {args.runs} fresh `train label` over {args.paragraphs:,} unlabeled paragraphs")
        starts = start_up(data, model, first_id, args.runs)
        log(f"keys: {args.presses} presses each")
        keys = keystrokes(data, model, first_id, args.presses)
        mean_keys, one_key, counted = keys_per_paragraph(model)
    groups = {
        "start-up": ms_rows(
            "process start → first paragraph", starts, f"{args.paragraphs:,} paragraphs ranked, {args.runs} runs"
        ),
        "keystroke → screen": [row for name, seconds in keys.items() for row in ms_rows(name, seconds)],
        "effort": [
            Row("keys per paragraph: accept the guess", 1, "keys", None, "", "Enter"),
            Row("keys per paragraph: heldout mean", mean_keys, "keys", None, "", f"{counted} paragraphs of {HELDOUT}"),
            Row("heldout paragraphs taking one key", one_key * 100, "%", None, "", "the model's guess exactly right"),
        ],
    }
    print(table(groups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
