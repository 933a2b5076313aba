"""`make lab` opens JupyterLab in the project's environment; its default kernel runs the notebooks."""

import sys
from pathlib import Path

import nbformat

from conftest import SHARED, write_review

ROOT = Path(__file__).resolve().parents[1]


def test_the_lab_kernel_is_this_environment_and_runs_notebook_01_in_smoke_mode(tmp_path):
    import papermill as pm
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")  # what `jupyter lab` from .venv/bin offers first
    # the environment's own spec: jupyter_client starts "python" as the interpreter that launched it
    assert Path(spec.resource_dir).is_relative_to(Path(sys.prefix)) and spec.argv[0] in ("python", sys.executable)
    assert "lab:" in (ROOT / "Makefile").read_text() and "jupyter lab" in (ROOT / "Makefile").read_text()
    data = SHARED
    if not (SHARED / "nsaids.csv.gz").is_file():
        data = tmp_path / "data"
        write_review(data, "nsaids", n=60, n_pos=12)
    out = tmp_path / "executed.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "01_datasets_and_tokens.ipynb"), str(out), kernel_name="python3",
                        parameters={"data_dir": str(data), "out_dir": str(tmp_path / "out")},
                        cwd=str(ROOT / "notebooks"), progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    assert not [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                if o.get("output_type") == "error"]
    assert (tmp_path / "out" / "figures" / "01_token_counts.png").is_file()
    params = next(c for c in executed.cells if "parameters" in c.metadata.get("tags", []))
    assert 'mode = "smoke"' in params.source  # "Run All" in JupyterLab is smoke mode by default
