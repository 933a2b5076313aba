"""Progress bars for long work: on the terminal, never in a notebook's output.

Inside a Jupyter kernel ``sys.stderr`` is captured into the notebook (and so into the HTML
report); ``sys.__stderr__`` is the kernel process's own stderr, which the report runner's
terminal shows. Every progress bar of the package goes there.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(iterable=None, *, desc: str, total: int | None = None, enabled: bool = True, leave: bool = False):
    """A tqdm bar on the terminal (``enabled=False``: none)."""
    return tqdm(iterable, desc=desc, total=total, disable=not enabled, leave=leave, file=sys.__stderr__,
                dynamic_ncols=True)
