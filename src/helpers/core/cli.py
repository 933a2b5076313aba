"""What the command-line entry points share: one-line errors, the knobs as options, offline mode.

A knob has one name from the command line (``--eval-cap``) to every notebook's parameters cell
(``eval_cap``) to the settings dataclasses (``config``): ``add_knob_options`` builds one option per
named knob from its field, help and annotation, and ``check_knobs`` validates the given ones with
the dataclasses alone. Apart from ``config`` so that the dataclasses stay the one definition of a
knob and this module only reads them; no torch here, so the tools check their options before
anything heavy is imported.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import fields

from .config import MODES, Settings, settings


class CommandParser(argparse.ArgumentParser):
    """argparse with its errors on one line ("prog: --option value: what is wrong") and exit code
    2, as every other error of the command-line tools."""

    def error(self, message: str):
        import sys

        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def offline() -> None:
    """Offline mode for a command-line entry point and the notebooks it starts (they inherit its
    environment): models and data are read from disk, never downloaded; tokenizers stay
    single-threaded inside worker processes. A user who wants downloads sets
    HF_HUB_OFFLINE=0 first."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def add_knob_options(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    """One ``--option`` per named ``Settings`` knob, its help the knob's own and its type read from
    the field's annotation, so a knob is defined once. Every default is None (a bool: off): what is
    not given is the mode's default (``settings``), and the help says what that is."""
    import types
    import typing

    hints = typing.get_type_hints(Settings)
    by_name = {f.name: f for f in fields(Settings)}
    for name in names:
        f, hint = by_name[name], hints[name]
        flag, help_ = "--" + name.replace("_", "-"), f"{f.metadata['help']} (default: {_default_text(name, f.default)})"
        optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)] if optional else [hint]
        if name == "mode":
            parser.add_argument(flag, choices=MODES, default=None, help=help_)
        elif hint is bool:
            parser.add_argument(flag, action="store_true", default=None, help=help_)
        elif typing.get_origin(args[0]) is tuple:
            parser.add_argument(flag, nargs="+", type=typing.get_args(args[0])[0], default=None, help=help_)
        elif str in args and bool in args:  # normalize: auto, or yes/no
            parser.add_argument(flag, choices=("auto", "true", "false"), default=None, help=help_,
                                type=str.lower)
        else:
            parser.add_argument(flag, type=int if args[0] is int else str, default=None, help=help_)


def _default_text(name: str, default) -> str:
    return "the mode's" if name in ("out_dir", "seeds", "eval_cap", "reviews") else str(default)


def knob_overrides(options: argparse.Namespace, names: tuple[str, ...]) -> dict:
    """The knobs given on the command line, as ``settings`` takes them after the mode (its first
    argument): normalize's words as bools."""
    given = {name: getattr(options, name) for name in names if name != "mode" and getattr(options, name) is not None}
    if "normalize" in given:
        given["normalize"] = {"auto": "auto", "true": True, "false": False}[given["normalize"]]
    return given


def check_knobs(parser: argparse.ArgumentParser, mode: str, overrides: dict) -> Settings:
    """The run's settings, each given knob validated by the dataclasses alone (no second copy of
    their rules); a bad one exits through ``parser.error`` naming its option and value."""
    for name, value in overrides.items():
        try:
            settings(mode, **{name: value})
        except ValueError as exc:
            shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            reason = re.sub(r"^(Settings|SweepConfig)\.\w+ ", "", str(exc))
            parser.error(f"--{name.replace('_', '-')} {shown}: {reason}")
    return settings(mode, **overrides)
