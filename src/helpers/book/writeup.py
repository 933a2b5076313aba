"""Each page's "What this shows": every number in its prose computed here, from the results rows
and the tables the page shows, never typed. One function per notebook, each returning a
``Writeup`` that ``helpers.book.page.show`` displays; each is tested on a run with one review.
This module holds the ``Writeup`` and the phrasing every page shares; the pages' functions are
in ``writeup_data`` (notebooks 00–03), ``writeup_accuracy`` (05–08, 11), ``writeup_cost`` (04,
09) and ``writeup_stopping`` (10).

Readings are the report's one rule for a paired comparison (``stats.verdict``): a difference is
called a win or a loss only where the median paired difference points that way and Wilcoxon's
p is below 0.05.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd



@dataclass(frozen=True)
class Writeup:
    """A headline for the landing page (None: the page lists none), Markdown paragraphs, tables
    as (caption, frame, display options) and Markdown after them (e.g. why study and here differ)."""

    headline: str | None
    body: str
    tables: tuple = ()
    after: str = ""


def bullets(lines) -> str:
    return "\n".join(f"- {line}" for line in lines)


def study_vs_here(headline: str, lines, vs: pd.DataFrame, why: str, *, caption: str = "study vs here",
                   **display) -> Writeup:
    """A section that sets its numbers beside the study's: its bullets, one table of study vs here
    and, after it, why the two differ (every such section says why, in the same words)."""
    return Writeup(headline, bullets(lines), tables=((caption, vs, display),), after=f"Why they differ: {why}")


def count_of(n: int, noun: str) -> str:
    """'1 review', '15 reviews': the prose reads as written, not as a form with '(s)'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def moves(after: float, before: float) -> str:
    return "raises" if after > before else "lowers" if after < before else "does not change"


def value_range(values) -> str:
    return f"{min(values):.3f}–{max(values):.3f}"
