"""The runner: options checked before any work, and every notebook executed in smoke mode."""

import os
import re
from pathlib import Path

import nbformat
import pytest

from conftest import SHARED, write_review
from helpers.commands import report
from helpers.commands.report import notebooks

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = {"nsaids": (120, 30), "antihistamines": (90, 20), "urinary_incontinence": (100, 24),
             "skeletal_muscle_relaxants": (110, 12)}


@pytest.fixture
def data_dir(tmp_path):
    if (SHARED / "nsaids.csv.gz").is_file():
        return SHARED
    folder = tmp_path / "synthetic"
    for k, (slug, (n, pos)) in enumerate(SYNTHETIC.items()):
        write_review(folder, slug, n=n, n_pos=pos, seed=k)
    return folder


@pytest.mark.parametrize("argv,message", [
    (["--only", "99"], "--only 99: no such notebook"),
    (["--seeds", "-1"], "--seeds -1: must be distinct whole numbers >= 0"),
    (["--seeds", "1", "1"], "--seeds 1 1: must be distinct"),
    (["--eval-cap", "0"], "--eval-cap 0: must be None or a whole number >= 2"),
    (["--encoder", "/missing/path"], "'/missing/path': no such folder"),
    (["--scheduler", "local:x"], "scheduler must be local:N"),
    (["--fetch"], "--fetch needs --data-dir"),
    (["--reviews", "nope"], "--reviews: unknown ['nope']"),
    (["--device", "tpu"], "--device tpu: must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
    (["--jobs", "0"], "--jobs 0: must be at least 1"),
    (["--timing-architecture", "/missing"], "--timing-architecture /missing: 'specter' or a model folder"),
    (["--country", "B1"], "--country B1: must be a 3-letter ISO country code"),
])
def test_bad_options_stop_before_any_work_with_a_message_naming_the_option(argv, message, data_dir, capsys,
                                                                           monkeypatch):
    monkeypatch.setattr(report, "run_notebook", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(SystemExit) as exit_info:
        report.main(argv + ["--data-dir", str(data_dir)] if "--fetch" not in argv else argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_no_data_is_an_option_error_and_nothing_is_downloaded(tmp_path, capsys, monkeypatch):
    import helpers.core.fetch

    monkeypatch.setattr(helpers.core.fetch, "_download", lambda *a, **k: pytest.fail("download attempted"))
    with pytest.raises(SystemExit):
        report.main(["--data-dir", str(tmp_path / "empty")])
    assert "--data-dir: no review data" in capsys.readouterr().err
    assert not (tmp_path / "empty").exists()


def test_failing_notebook_names_notebook_and_cell(tmp_path, data_dir, monkeypatch, capsys):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('mode = "smoke"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "99_broken.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setattr(report, "notebooks", lambda root=None: [path])
    executed = tmp_path / "out" / "report" / "executed" / path.name
    executed.parent.mkdir(parents=True)
    executed.write_text("the last good run")
    assert report.main(["--out-dir", str(tmp_path / "out"), "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert "99_broken.ipynb" in err and "ValueError" in err and "boom" in err and "cell" in err
    # the book's page keeps the last good run; the failed run's copy is where the message says
    assert executed.read_text() == "the last good run"
    failed = report.partial_copy(executed)
    assert str(failed) in err and "boom" in failed.read_text()


def test_a_relative_out_dir_is_where_the_user_stands_not_under_notebooks(tmp_path, data_dir, monkeypatch):
    """Papermill runs each notebook in notebooks/; a relative --out-dir or --data-dir must still mean the caller's folder,
    and the page's settings note must be able to record it."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('mode = "smoke"\nout_dir = None\ndata_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from helpers.book.page import settings_note\nfrom helpers.core.config import settings\n"
        "S = settings(mode, out_dir=out_dir, data_dir=data_dir)\nsettings_note(S)\n"
        "(S.out_dir / 'marker.txt').write_text(S.data_dir)")]
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "98_where.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setattr(report, "notebooks", lambda root=None: [path])
    monkeypatch.chdir(tmp_path)
    relative_data = os.path.relpath(data_dir, tmp_path)
    assert report.main(["--out-dir", "out", "--data-dir", relative_data]) == 0
    assert (tmp_path / "out" / "marker.txt").read_text() == str(data_dir.resolve())
    assert not (tmp_path / "notebooks" / "out").exists()


def usage(out: str) -> dict[str, int]:
    """The runner's closing counts: rows and artefacts reused and computed."""
    found = re.search(r"results rows reused: (\d+), computed: (\d+); artefacts reused: (\d+), computed: (\d+)", out)
    assert found, out[-2000:]
    return dict(zip(("rows_reused", "rows_computed", "artefacts_reused", "artefacts_computed"), map(int, found.groups())))


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 3 min on 2 cores: twelve notebooks twice, a tiny encoder, synthetic reviews
def test_every_notebook_runs_end_to_end_and_a_rerun_reuses_every_row_and_artefact(tmp_path, tiny_sentence_encoder_dir,
                                                                                  monkeypatch, capsys):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "synthetic"
    for k, (slug, (n, pos)) in enumerate(SYNTHETIC.items()):
        write_review(data, slug, n=n, n_pos=pos, seed=k)
    out = tmp_path / "out"
    argv = ["--mode", "smoke", "--jobs", "2", "--out-dir", str(out), "--data-dir", str(data), "--encoder", str(tiny_sentence_encoder_dir),
            "--timing-architecture", str(tiny_sentence_encoder_dir)]
    assert report.main(argv) == 0
    for nb in notebooks():
        assert (out / "report" / f"{nb.stem}.html").stat().st_size > 10_000
        executed = nbformat.read(out / "report" / "executed" / nb.name, as_version=4)
        assert all(c.get("execution_count") for c in executed.cells if c.cell_type == "code"), nb.name  # every cell ran
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, nb.name
    assert (out / "report" / "index.html").is_file()
    # every figure the full report commits is drawn, as PNG and SVG
    assert {p.name for p in (out / "figures").iterdir()} == {p.name for p in (ROOT / "figures").iterdir()}
    first = usage(capsys.readouterr().out)
    assert first["rows_computed"] > 0 and first["artefacts_computed"] >= 8
    # a second run computes nothing: every row and every artefact is reused, and says so
    assert report.main(argv) == 0
    again = usage(capsys.readouterr().out)
    assert again["rows_computed"] == 0 and again["artefacts_computed"] == 0
    # >=: notebooks share some rows (11's k = 8 are 05's and 07's), each reuse counted
    assert again["rows_reused"] >= first["rows_computed"]
    # artefacts are reused too, though fewer than were first computed: notebook 11 reuses its stored table
    # of realised savings instead of re-reading the reading orders it was built from (the stopping rule
    # over them takes about a minute in full mode)
    assert again["artefacts_reused"] > 0
