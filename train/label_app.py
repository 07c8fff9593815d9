"""`train label`'s screen: a Textual app over a `train.labeling.Session`.

One paragraph at a time with the model's guess ticked: Enter accepts what is ticked, so
agreeing with the model is one key; a digit ticks or unticks a label first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Footer, Static

from train.errors import TrainError
from train.labeling import MAX_LABELS, Decision, Session

NO_TOPIC = "no topic []"


def label_line(key: int, name: str, width: int, score: float, ticked: bool) -> Content:
    """`[x]  1   name   0.82`: box, key and name in one style, so a line reads at a glance."""
    head = f"[{'x' if ticked else ' '}]  {key}   {name:<{width}}"
    return Content.assemble((head, "bold $success" if ticked else ""), (f"  {score:>5.2f}  ", "bold" if ticked else ""))


def shown(labels: tuple[str, ...]) -> str:
    return ", ".join(labels) if labels else NO_TOPIC


class LabelApp(App[None]):
    """Label the session's queue; every decision is written by the session before the next paragraph shows."""

    TITLE = "train label"
    ENABLE_COMMAND_PALETTE = False
    # Narrower than this, each label's meaning goes under its name instead of beside it.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (90, "-wide")]  # noqa: RUF012 (typed by App; a ClassVar here fails mypy)
    CSS = """
    #main { padding: 0 1; }
    #where { color: $text-muted; }
    #text { border: round $primary; padding: 0 1; }
    #labels { height: auto; }
    #guess { margin-top: 1; }
    .row { height: auto; }
    .label { width: auto; }
    .meaning { width: 1fr; color: $text-muted; }
    #columns { color: $text-muted; }
    Screen.-narrow .row { layout: vertical; }
    Screen.-narrow .meaning { padding-left: 9; }
    Screen.-narrow #columns .meaning { display: none; }
    Screen.-narrow .meaning, Screen.-narrow #status { text-wrap: nowrap; text-overflow: ellipsis; }
    #bar { height: auto; padding: 0 1; border-top: solid $primary; }
    #progress { text-style: bold; }
    #status { color: $text-muted; }
    #status.error { color: $error; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "tick(1)", "tick/untick", key_display="digit"),
        *(Binding(str(key), f"tick({key})", show=False) for key in range(2, MAX_LABELS + 1)),
        Binding("enter", "accept", "accept"),
        Binding("s", "skip", "skip (back next session)"),
        Binding("u", "undo", "undo"),
        Binding("q", "quit", "quit"),
    ]

    ticked: reactive[frozenset[str]] = reactive(frozenset(), always_update=True, init=False)

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.names = session.labels.names
        self.width = max(map(len, self.names))

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="main"):  # a long paragraph on a small terminal scrolls; the bar stays
            yield Static(id="where", markup=False)
            yield Static(id="text", markup=False)
            with Vertical(id="labels"):
                yield Static(id="guess", markup=False)
                with Horizontal(id="columns", classes="row"):
                    yield Static(f"tick key {'label':<{self.width}}  score  ", classes="label", markup=False)
                    yield Static("meaning (full guide: data/LABELING.md)", classes="meaning", markup=False)
                for number, label in enumerate(self.session.labels.labels, 1):
                    with Horizontal(classes="row"):
                        yield Static(id=f"label-{number}", classes="label", markup=False)
                        # Wrapped beside the label, never cut: the description is the definition to label by.
                        yield Static(label.description, id=f"meaning-{number}", classes="meaning", markup=False)
        with Vertical(id="bar"):
            yield Static(id="progress", markup=False)
            yield Static(id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.show_current()
        self.say("a digit ticks or unticks; Enter saves what is ticked (nothing ticked = no topic)")

    def show_current(self, ticked: tuple[str, ...] | None = None) -> None:
        """Draw the paragraph on screen, ticking `ticked` (default: the model's guess)."""
        item = self.session.current
        self.query_one("#progress", Static).update(str(self.session.progress))
        self.query_one("#labels").display = item is not None
        if item is None:
            self.query_one("#where", Static).update("queue done")
            self.query_one("#text", Static).update(self.done_text())
            self.refresh_bindings()
            return
        where = f"paragraph {item.id}" + (f" · article {item.article}" if item.article else "")
        self.query_one("#where", Static).update(where)
        self.query_one("#text", Static).update(item.text)
        guess = f"the model's guess (score at or over its threshold): {shown(item.guess)}"
        self.query_one("#guess", Static).update(guess)
        self.ticked = frozenset(item.guess if ticked is None else ticked)
        self.refresh_bindings()

    def done_text(self) -> str:
        skipped = self.session.progress.skipped
        back = ""
        if skipped == 1:
            back = " The skipped paragraph stays unlabeled and comes back next `train label`."
        elif skipped:
            back = f" The {skipped} skipped paragraphs stay unlabeled and come back next `train label`."
        return f"Every paragraph in this session's queue is decided.{back} u undoes the last decision, q quits."

    def watch_ticked(self, ticked: frozenset[str]) -> None:
        item = self.session.current
        if item is None:
            return
        for number, label in enumerate(self.session.labels.labels, 1):
            line = label_line(number, label.name, self.width, item.scores[label.name], label.name in ticked)
            self.query_one(f"#label-{number}", Static).update(line, layout=False)  # same width: no re-layout

    def say(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(error, "error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Once the queue is done, ticking, accepting and skipping are greyed out; digits past the labels do nothing."""
        if action == "tick" and parameters and int(str(parameters[0])) > len(self.names):
            return False
        if action in ("tick", "accept", "skip") and self.session.current is None:
            return None
        return True

    def action_tick(self, key: int) -> None:
        self.ticked = self.ticked ^ {self.names[key - 1]}

    def action_accept(self) -> None:
        self.decide(lambda: self.session.accept(self.ticked), "saved {id} → {labels} in {file}")

    def action_skip(self) -> None:
        self.decide(self.session.skip, "skipped {id}: still unlabeled, back next session")

    def decide(self, act: Callable[[], Decision], message: str) -> None:
        try:
            decision = act()
        except TrainError as exc:  # the write failed: the paragraph stays on screen, ticks as they were
            self.say(f"error: {exc} (nothing saved; fix it and press the key again)", error=True)
            return
        self.show_current()
        labels = shown(decision.labels or ())
        self.say(message.format(id=decision.item.id, labels=labels, file=decision.file))

    def action_undo(self) -> None:
        try:
            decision = self.session.undo()
        except TrainError as exc:
            self.say(f"error: {exc}", error=True)
            return
        if decision is None:
            self.say("nothing to undo in this session")
            return
        self.show_current(ticked=decision.labels)
        item = decision.item
        if decision.labels is None:
            self.say(f"undid the skip of {item.id}")
        else:
            self.say(f"undid {item.id}: unlabeled again in the file; ticked as you saved it ({shown(decision.labels)})")
