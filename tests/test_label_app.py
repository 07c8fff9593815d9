"""`train label`'s screen: the real App driven by Textual's pilot, and the real console script in a pseudo-terminal.

pytest-asyncio is not a dependency: each pilot test runs its coroutine with asyncio.run.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import pexpect
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Static

from tests.conftest import TRAIN, FittedProject
from tests.test_labeling import LABELED, LABELS_FILE, on_disk, session_over, unlabeled_data
from train.label_app import LabelApp
from train.labeling import Session

SIZE = (100, 30)


def run(
    session: Session, script: Callable[[LabelApp, Pilot[None]], Awaitable[None]], size: tuple[int, int] = SIZE
) -> None:
    async def main() -> None:
        app = LabelApp(session)
        async with app.run_test(size=size) as pilot:
            await script(app, pilot)

    asyncio.run(main())


def text(app: LabelApp, selector: str) -> str:
    """The text a Static shows, without its styles."""
    visual = app.query_one(selector, Static).visual
    assert isinstance(visual, Content)
    return visual.plain


def line(app: LabelApp, key: int) -> str:
    return text(app, f"#label-{key}")


def test_enter_accepts_the_models_guess(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    session = session_over(fitted, data)
    first, second = session.pending[:2]

    async def script(app: LabelApp, pilot: Pilot[None]) -> None:
        assert text(app, "#text") == first.text
        assert first.id in text(app, "#where") and "article lab-a" in text(app, "#where")
        for key, name in enumerate(session.labels.names, 1):
            ticked = "[x]" if name in first.guess else "[ ]"
            assert line(app, key).startswith(f"{ticked}  {key}   {name}")
            assert f"{first.scores[name]:.2f}" in line(app, key)
            assert text(app, f"#meaning-{key}") == session.labels.description(name)
        assert text(app, "#progress") == "0 labeled · 0 skipped · 6 left"
        await pilot.press("enter")
        assert on_disk(data)[first.id]["labels"] == list(first.guess)
        assert text(app, "#text") == second.text
        assert text(app, "#progress") == "1 labeled · 0 skipped · 5 left"
        assert text(app, "#status").startswith(f"saved {first.id} → ")

    run(session, script)


def test_an_80_by_24_terminal_shows_every_label_and_the_progress(fitted: FittedProject, tmp_path: Path) -> None:
    session = session_over(fitted, unlabeled_data(tmp_path / "u.jsonl"))

    async def script(app: LabelApp, pilot: Pilot[None]) -> None:
        await pilot.pause()  # the width's layout class comes with the first resize event
        assert app.screen.has_class("-narrow")
        screen = app.screen.region
        for selector in [*(f"#label-{key}" for key in range(1, 6)), "#meaning-5", "#progress", "#status"]:
            region = app.query_one(selector).region
            assert region.height >= 1 and screen.contains_region(region), selector

    run(session, script, size=(80, 24))


def test_digits_tick_and_untick_then_enter_writes_them(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    session = session_over(fitted, data)
    first = session.pending[0]
    names = session.labels.names
    lawsuits = names.index("lawsuits") + 1
    expected = sorted({*first.guess} ^ {"lawsuits", "finance"}, key=names.index)

    async def script(app: LabelApp, pilot: Pilot[None]) -> None:
        was = line(app, lawsuits)[:3]
        await pilot.press(str(lawsuits))
        assert line(app, lawsuits)[:3] == ("[ ]" if was == "[x]" else "[x]")
        assert on_disk(data)[first.id]["labels"] is None  # ticking writes nothing
        await pilot.press(str(lawsuits), str(lawsuits), str(names.index("finance") + 1))
        await pilot.press("9")  # no ninth label: nothing happens
        assert on_disk(data)[first.id]["labels"] is None
        await pilot.press("enter")
        assert on_disk(data)[first.id]["labels"] == expected

    run(session, script)


def test_no_label_ticked_writes_an_empty_list(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    session = session_over(fitted, data)
    first = session.pending[0]
    names = session.labels.names

    async def script(app: LabelApp, pilot: Pilot[None]) -> None:
        await pilot.press(*(str(names.index(name) + 1) for name in first.guess))
        assert all(line(app, key).startswith("[ ]") for key in range(1, len(names) + 1))
        await pilot.press("enter")
        assert on_disk(data)[first.id]["labels"] == []
        assert "no topic []" in text(app, "#status")

    run(session, script)


def test_skip_and_undo(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    before = data.read_bytes()
    session = session_over(fitted, data)
    first, second, third = session.pending[:3]

    async def script(app: LabelApp, pilot: Pilot[None]) -> None:
        await pilot.press("s")
        assert data.read_bytes() == before
        assert text(app, "#text") == second.text
        assert text(app, "#progress") == "0 labeled · 1 skipped · 5 left"
        assert "back next session" in text(app, "#status")
        await pilot.press("1", "enter")
        saved = on_disk(data)[second.id]["labels"]
        assert isinstance(saved, list) and text(app, "#text") == third.text
        await pilot.press("u")
        assert on_disk(data)[second.id]["labels"] is None
        assert text(app, "#text") == second.text
        assert line(app, 1).startswith("[x]" if "talent_exodus" in saved else "[ ]")  # ticked as it was saved
        assert "unlabeled again" in text(app, "#status")
        await pilot.press("u")
        assert text(app, "#text") == first.text
        assert text(app, "#progress") == "0 labeled · 0 skipped · 6 left"
        await pilot.press("u")
        assert text(app, "#status") == "nothing to undo in this session"
        assert data.read_bytes() == before

    run(session, script)


def test_a_failed_write_is_shown_and_the_paragraph_stays(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    session = session_over(fitted, data)
    first = session.pending[0]
    moved = tmp_path / "away.jsonl"

    async def script(app: LabelApp, pilot: Pilot[None]) -> None:
        data.rename(moved)
        await pilot.press("enter")
        assert text(app, "#status").startswith(f"error: {data}: no such file")
        assert text(app, "#text") == first.text
        assert text(app, "#progress") == "0 labeled · 0 skipped · 6 left"
        moved.rename(data)
        await pilot.press("enter")
        assert on_disk(data)[first.id]["labels"] == list(first.guess)
        assert text(app, "#status").startswith(f"saved {first.id}")

    run(session, script)


def test_done_screen_then_q_quits(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    session = session_over(fitted, data)
    items = session.pending

    async def script(app: LabelApp, pilot: Pilot[None]) -> None:
        await pilot.press("s", *["enter"] * (len(items) - 1))
        assert text(app, "#progress") == f"{len(items) - 1} labeled · 1 skipped · 0 left"
        assert "The skipped paragraph stays unlabeled and comes back next `train label`" in text(app, "#text")
        assert not app.query_one("#labels").display
        written = data.read_bytes()
        await pilot.press("enter", "s", "3")  # greyed out once the queue is done
        assert data.read_bytes() == written
        await pilot.press("q")
        assert not app.is_running

    run(session, script)
    rows = on_disk(data)
    assert rows[items[0].id]["labels"] is None
    assert all(rows[item.id]["labels"] == list(item.guess) for item in items[1:])


def test_train_label_in_a_real_terminal_survives_sigkill(fitted: FittedProject, tmp_path: Path) -> None:
    """The console script in a pseudo-terminal: keys, quit, then a second session killed mid-way."""
    data = unlabeled_data(tmp_path / "u.jsonl")
    order = session_over(fitted, data).pending
    args = ["label", "--data", str(data), "--model", str(fitted.model), "--labels", str(LABELS_FILE)]
    env = {**os.environ, "TERM": "xterm-256color"}

    def spawn() -> pexpect.spawn:
        return pexpect.spawn(TRAIN, args, dimensions=SIZE[::-1], encoding="utf-8", env=env, timeout=60)

    first = spawn()
    first.expect(f"paragraph {order[0].id}")
    first.expect("0 labeled · 0 skipped · 6 left")
    first.send("\r")
    first.expect("1 labeled · 0 skipped · 5 left")
    assert on_disk(data)[order[0].id]["labels"] == list(order[0].guess)
    first.send("s")
    first.expect("1 labeled · 1 skipped · 4 left")
    first.send("q")
    first.expect("1 labeled · 1 skipped · 4 left; every decision is saved in the data files")
    first.expect("come back next `train label`")
    first.expect(pexpect.EOF)
    first.close()
    assert first.exitstatus == 0
    rows = on_disk(data)
    assert rows[order[0].id]["labels"] == list(order[0].guess)
    assert all(rows[item.id]["labels"] is None for item in order[1:])

    second = spawn()  # resumes: the skipped paragraph is back first, the labeled one is gone
    second.expect(f"paragraph {order[1].id}")
    second.expect("0 labeled · 0 skipped · 5 left")
    second.send("\r")
    second.expect("1 labeled · 0 skipped · 4 left")
    second.send("\r")
    second.expect("2 labeled · 0 skipped · 3 left")
    second.send("1")  # ticked on screen, not accepted: this is what the kill may lose
    second.expect(r"\[[x ]\]  1")
    second.kill(signal.SIGKILL)
    second.expect(pexpect.EOF)
    second.close()
    assert second.signalstatus == signal.SIGKILL
    rows = on_disk(data)  # every line parses
    assert [rows[item.id]["labels"] for item in order[:3]] == [list(item.guess) for item in order[:3]]
    assert all(rows[item.id]["labels"] is None for item in order[3:])
    assert rows["lab-b:1"] == LABELED
    assert all(rows[item.id]["note"] == f"kept {item.id}" for item in order)
    assert [item.id for item in session_over(fitted, data).pending] == [item.id for item in order[3:]]
    assert not list(tmp_path.glob(".u.jsonl.*.tmp"))  # no temporary file left behind
