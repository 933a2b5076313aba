import os
import subprocess
import sys

from helpers.core.io import atomic_path, clean_stale_temps, is_stale_temp, temp_name


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temps_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    live = temp_name(tmp_path / "results.csv")
    live.write_text("mine")
    dead = live.with_name(live.name.rsplit("-", 1)[0] + f"-{dead_pid()}")
    dead.write_text("killed run")
    dead_dir = tmp_path / f".shard{dead.name.split('.csv', 1)[1]}"
    dead_dir.mkdir()
    other_host = tmp_path / ".x.tmp-otherhost-1"
    other_host.write_text("another machine's writer")
    assert is_stale_temp(dead) and not is_stale_temp(live) and not is_stale_temp(other_host)
    removed = clean_stale_temps(tmp_path)
    assert set(removed) == {dead, dead_dir}
    assert live.exists() and other_host.exists() and not dead.exists() and not dead_dir.exists()


def test_atomic_path_leaves_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    try:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    except RuntimeError:
        pass
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["table.csv"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
