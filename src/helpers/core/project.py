"""Where the project lives and the machine it runs on.

The checkout this package is installed from (else the working directory), its numbered
notebooks, whether a folder can be written, and this machine in a few words (stored in every
results row and on every page's stamp). Apart from the knobs (``config``) and the command line
(``cli``), which both read it: the one definition of where things are.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[3]


def project_root() -> Path:
    """The checkout this package lives in (editable install), else the working directory."""
    return PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").is_file() else Path.cwd()


def notebook_paths(root: Path | None = None) -> list[Path]:
    """The numbered notebooks, in book order."""
    return sorted((root or project_root()).joinpath("notebooks").glob("[0-9][0-9]_*.ipynb"))


def writable_folder(path: str | Path) -> Path:
    """``path`` as a folder this process can create or write into: every existing part of it must
    be a folder, and the deepest existing one writable. A ValueError naming the part otherwise."""
    path = Path(path).expanduser().resolve()
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: {existing} is not writable")
    return path


def machine_description() -> str:
    """This machine in a few words: stored in every results row and on every page's stamp."""
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
