"""Executes every notebook in smoke mode (real data where present, else a synthetic copy)."""

import nbformat
import pytest

from conftest import SHARED, write_review
from helpers import report
from helpers.report import notebooks, settings

SYNTHETIC = {"nsaids": (120, 30), "oral_hypoglycemics": (100, 30), "antihistamines": (90, 20)}


@pytest.fixture
def data_dir(tmp_path):
    if (SHARED / "nsaids.csv.gz").is_file():
        return SHARED
    folder = tmp_path / "synthetic"
    for k, (slug, (n, pos)) in enumerate(SYNTHETIC.items()):
        write_review(folder, slug, n=n, n_pos=pos, seed=k)
    return folder


def test_settings_modes_and_overrides(tmp_path):
    smoke, full = settings("smoke"), settings("full")
    assert smoke.out_dir != full.out_dir and "build" in smoke.out_dir.parts
    assert len(full.seeds) >= 5 and full.eval_cap is None and full.tsne_per_class == 300
    assert settings("smoke", seeds=[3, 4], out_dir=tmp_path).seeds == (3, 4)
    with pytest.raises(ValueError, match="mode must be one of"):
        settings("huge")


@pytest.mark.slow
def test_every_notebook_runs_in_smoke_mode(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert report.main(["--mode", "smoke", "--out-dir", str(out), "--data-dir", str(data_dir)]) == 0
    for nb in notebooks():
        assert (out / "report" / f"{nb.stem}.html").stat().st_size > 10_000
        executed = nbformat.read(out / "executed" / nb.name, as_version=4)
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"01_token_counts.png", "01_token_counts.svg", "02_base_tsne.png", "03_scores_before_after.png"} <= figures
    assert (out / "results" / "results.csv").is_file()


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
    assert report.main(["--out-dir", str(tmp_path / "out"), "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert "99_broken.ipynb" in err and "ValueError" in err and "boom" in err and "cell" in err
