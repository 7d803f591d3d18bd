"""A progress bar for long runs (the command line's; usable from a terminal session)."""

from __future__ import annotations

import time

__all__ = ["ProgressBar"]


class ProgressBar:
    """Rich progress bar on stderr, shown once a run has taken over a second.

    ``with ProgressBar(disabled) as progress:`` gives a ``progress(done, total)``
    callable for :func:`engine.simulate` (or None when disabled or stderr is not a
    terminal).
    """

    def __init__(self, disabled: bool):
        self.disabled = disabled
        self.bar = None
        self.task = None
        self.t0 = time.perf_counter()

    def __enter__(self):
        if self.disabled:
            return None
        from rich.console import Console

        return self if Console(stderr=True).is_terminal else None

    def __call__(self, done, total):
        if self.bar is None:
            if time.perf_counter() - self.t0 < 1.0 or done >= total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("paths"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("sim", total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
