"""What a notebook tells the HTML book, from inside the notebook: the output types the book's
builder (``helpers.book.site``) reads from the executed notebooks.

- ``headline(text)``: a finding, shown in the page and listed on the landing page;
- ``compute_note(rows)``: the results rows a page shows (their compute time goes into the page's
  stamp, so a page redrawn from stored rows still tells the cold run's time);
- ``settings_note(s)``: the run's resolved settings and what it ran on (encoder, device,
  machine), for the page's settings box and the landing page's "what differs" box;
- ``show(writeup)``: a page's "What this shows" (``helpers.book.writeup``): headline, prose, tables;
- ``start(mode, **knobs)``: a notebook's first call: its settings, the figures' style, the note
  (``start_sweep``: also the sweep, its encoder and its reviews, for the notebooks that sweep).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

from ..core.config import SweepConfig
from ..core.project import machine_description, project_root

HEADLINE_MIME = "application/vnd.slr.headline+json"
COMPUTE_MIME = "application/vnd.slr.compute+json"
SETTINGS_MIME = "application/vnd.slr.settings+json"


def _display(data: dict) -> None:
    from IPython.display import display

    display(data, raw=True)


def headline(text: str, *, page_text: str | None = None) -> None:
    """Show a finding (Markdown) in the page and list it on the book's landing page."""
    _display({"text/markdown": page_text or text, HEADLINE_MIME: {"text": text}})


def compute_note(rows) -> None:
    """Record, invisibly, what the results rows shown on this page cost to compute (the sum
    of their ``seconds``), when and on what machine."""
    seconds = float(rows["seconds"].fillna(0).sum()) if "seconds" in rows else 0.0
    stamps = rows["computed_at"].dropna() if "computed_at" in rows else []
    machines = sorted(set(rows["machine"].dropna())) if "machine" in rows else []
    note = {"rows": int(len(rows)), "seconds": seconds, "first": min(stamps) if len(stamps) else None,
            "last": max(stamps) if len(stamps) else None, "machines": machines}
    _display({"text/plain": "", COMPUTE_MIME: note})


def run_facts(s) -> dict:
    """What this run ran on, resolved: the encoder's name (``auto`` becomes SPECTER or the
    packaged MiniLM), whether SPECTER was available offline, the device, the machine and the
    reviews whose text its data folder holds."""
    from ..core.data import available_reviews
    from ..models.encoder import display_name, resolve_device, resolve_encoder_name, specter_available

    device = resolve_device(s.device)
    facts = {"encoder_name": display_name(resolve_encoder_name(s.encoder)), "specter_available": bool(specter_available()),
             "device_used": device, "machine": machine_description(), "reviews_with_text": available_reviews(s.data_dir)}
    if device.startswith("cuda"):
        import torch

        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts


def settings_note(s) -> None:
    """Record, invisibly, the resolved settings of the run (``helpers.core.config.Settings``) and
    ``run_facts``: the page's settings box shows them in place of a parameter's ``None`` (= the
    mode's default). Paths are shown relative to the project, so no page names a local folder."""
    note = {k: shown(v) for k, v in {**asdict(s), **run_facts(s)}.items()}
    _display({"text/plain": "", SETTINGS_MIME: note})


def shown(value):
    """A setting as a page shows it: paths relative to the project (or their name), tuples as lists."""
    if isinstance(value, Path):  # a page's metadata is JSON: every path is recorded as text
        value = str(value)
    if isinstance(value, str) and value.startswith("/"):
        path = Path(value)
        try:
            return str(path.relative_to(project_root())) or "."
        except ValueError:
            return path.name
    if isinstance(value, tuple):
        return list(value)
    return value


def show(writeup) -> None:
    """A page's "What this shows": its headline, its paragraphs, and its tables with captions."""
    from IPython.display import Markdown, display

    from .plots import table

    if writeup.headline:
        headline(writeup.headline)
    display(Markdown(writeup.body))
    for caption, frame, options in writeup.tables:
        display(table(frame, caption=caption, **options))
    if writeup.after:
        display(Markdown(writeup.after))


def start(mode: str, **knobs):
    """A notebook's preamble in one call: the run's settings (``config.settings``: the mode's
    defaults, then every knob given that is not None), the figures' style, and the settings note
    the book shows."""
    from ..core.config import settings
    from .plots import setup_style

    s = settings(mode, **knobs)
    setup_style()
    settings_note(s)
    return s


class Run(NamedTuple):
    """What a sweeping notebook starts from: its settings, their sweep, the encoder, and the run's
    reviews split into those with text here and those without (named on the page)."""

    settings: object  # config.Settings
    config: SweepConfig
    encoder: object   # embedding.Encoder
    reviews: list[str]
    missing: list[str]


def start_sweep(mode: str, **knobs) -> Run:
    """A sweeping notebook's preamble in one call (``page.start``, then the sweep, its encoder and
    its reviews): ``S, config, enc, chosen, missing = start_sweep(mode, ...)``."""
    from ..core.data import split_available
    from ..methods.trial import encoder_for

    s = start(mode, **knobs)
    config = s.sweep()
    chosen, missing = split_available(s.reviews, s.data_dir)
    return Run(s, config, encoder_for(config), chosen, missing)
