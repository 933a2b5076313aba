"""Progress bars for long work: on the terminal, never in a notebook's output.

Inside a Jupyter kernel ``sys.stderr`` is captured into the notebook (and so into the HTML
report); ``sys.__stderr__`` is the kernel process's own stderr, which the report runner's
terminal shows. Every progress bar of the package goes there.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from tqdm import tqdm


def progress(iterable=None, *, desc: str, total: int | None = None, enabled: bool = True, leave: bool = False):
    """A tqdm bar on the terminal (``enabled=False``: none)."""
    return tqdm(iterable, desc=desc, total=total, disable=not enabled, leave=leave, file=sys.__stderr__,
                dynamic_ncols=True)


@contextlib.contextmanager
def to_terminal():
    """Inside it, what libraries print — setfit's and transformers' logs, their progress bars —
    goes to the terminal (``sys.__stderr__``), never into a notebook's output: for work a
    notebook redoes with a library's own loop (a replay), whose chatter is not the page's."""
    loggers = [logging.getLogger(name) for name in ("setfit", "transformers", "sentence_transformers")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with contextlib.redirect_stdout(sys.__stderr__), contextlib.redirect_stderr(sys.__stderr__):
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
