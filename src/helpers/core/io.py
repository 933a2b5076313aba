"""Atomic writes, file locks, the cache location, and clean-up after killed runs.

Every expensive result goes through here. A temporary file or folder is named
``.<target>.tmp-<host>-<pid>`` so that a later run can tell a live writer's temp (leave it)
from one left by a process that was killed (remove it).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

from .project import project_root

_HOST = socket.gethostname().replace("-", "_")
TEMP_MARK = ".tmp-"


def default_cache_dir() -> Path:
    """$SLR_CACHE_DIR, else `.cache/` in the project checkout (git-ignored)."""
    env = os.environ.get("SLR_CACHE_DIR")
    return Path(env) if env else project_root() / ".cache"


def temp_name(target: Path) -> Path:
    """The temporary sibling this process writes ``target`` through."""
    return target.with_name(f".{target.name}{TEMP_MARK}{_HOST}-{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def is_stale_temp(path: Path) -> bool:
    """A temp of this host whose process is gone. Temps of other hosts (a shared file system
    under Dask or Slurm) are never judged from here."""
    name = path.name
    if not name.startswith(".") or TEMP_MARK not in name:
        return False
    host, _, pid = name.rsplit(TEMP_MARK, 1)[1].rpartition("-")
    return host == _HOST and pid.isdigit() and not _pid_alive(int(pid))


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove the temp files and folders that killed runs left directly in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        if is_stale_temp(path):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside ``target``; rename it into place only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(target.parent)
    tmp = temp_name(target)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())  # results are meant to be shared
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_folder(tmp: Path, target: Path) -> bool:
    """Rename a fully written folder into place. If another writer published the same key
    first, keep theirs (same key = same content) and drop ours; returns whether ours won."""
    try:
        tmp.rename(target)
        return True
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return False


_held_locks = threading.local()


@contextmanager
def file_lock(path: Path, *, shared: bool = False):
    """An advisory lock on ``<path>.lock`` (POSIX ``flock``), held for the block: exclusive for
    writers, so concurrent read-modify-write from several processes loses nothing; ``shared``
    for readers, so a reader never sees a row half appended. A thread that already holds the
    lock (a writer reading its own table) is not blocked by itself. A lock file that cannot be
    created (a read-only folder, where nobody writes) means reading without one."""
    lock = Path(path).with_name(Path(path).name + ".lock").absolute()
    held = getattr(_held_locks, "paths", None)
    if held is None:
        held = _held_locks.paths = set()
    if lock in held:
        yield
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")
    except OSError:
        if not shared:
            raise
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        held.add(lock)
        try:
            yield
        finally:
            held.discard(lock)
            fcntl.flock(handle, fcntl.LOCK_UN)
