"""The progress bar of long commands (issue, publish, reissue, registry copy), drawn by rich."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from issuer.cli._output import quiet


class _Bar(Progress):
    """A progress bar with its counts on a second line, so that both fit 80 columns."""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            if task.fields.get("counts"):
                yield Text(f"  {task.fields['counts']}", overflow="ellipsis", no_wrap=True)


def progress_bar(what: str, *, in_bytes: bool = False, console: Console | None = None) -> Progress:
    """A progress bar on stderr (stdout is for ``--json``), on a terminal and without --quiet.

    One line: what, the bar, the done fraction, labelled elapsed and remaining
    times; the task's ``counts`` field goes on the line below. The bar shrinks
    to keep the line within the terminal's width (80 columns and up).

    Args:
        what: the label, e.g. ``issuing``.
        in_bytes: count bytes (shown as MB) rather than items.
        console: where to draw (tests); default stderr.
    """
    console = console or Console(stderr=True)
    done: ProgressColumn = DownloadColumn() if in_bytes else MofNCompleteColumn()
    return _Bar(
        TextColumn(what),
        BarColumn(bar_width=None),
        TaskProgressColumn(),
        done,
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("remaining"),
        TimeRemainingColumn(),
        console=console,
        expand=True,
        disable=quiet() or not console.is_terminal,
    )
