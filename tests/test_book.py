import nbformat
import pytest

from helpers.book.site import COMPUTE_MIME, HEADLINE_MIME, build_book


def executed_notebook(title: str, duration: float) -> nbformat.NotebookNode:
    params = nbformat.v4.new_code_cell('mode = "smoke"\nseeds = None')
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell('mode = "full"\nseeds = [0, 1]')
    injected.metadata["tags"] = ["injected-parameters"]
    work = nbformat.v4.new_code_cell("print('hello')")
    work.outputs = [nbformat.v4.new_output("stream", name="stdout", text="AWSS 0.500\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="UserWarning: noisy\nembed: 50%|###| 3/6\n"),
                    nbformat.v4.new_output("display_data", data={"text/markdown": "**finding** 0.5",
                                                                 HEADLINE_MIME: {"text": "**finding** 0.5"}}),
                    nbformat.v4.new_output("display_data", data={"text/plain": "", COMPUTE_MIME: {
                        "rows": 4, "seconds": 3725.0, "first": "2026-11-20T10:00:00+00:00",
                        "last": "2026-11-21T10:00:00+00:00", "machines": ["x86_64, 2 cores"]}})]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}\n\nText."), params, injected, work])
    nb.metadata["papermill"] = {"duration": duration}
    return nb


@pytest.fixture
def book(tmp_path):
    executed = tmp_path / "executed"
    executed.mkdir()
    nbformat.write(executed_notebook("01 · First", 12.0), executed / "01_first.ipynb")
    nbformat.write(executed_notebook("02 · Second", 3.0), executed / "02_second.ipynb")
    return build_book(tmp_path, executed, mode="full"), tmp_path / "report"


def test_landing_page_lists_findings_with_links_and_what_differs(book):
    index, report = book
    html = index.read_text()
    assert 'href="01_first.html"' in html and 'href="02_second.html"' in html
    assert "<strong>finding</strong> 0.5" in html and "What differs from the study" in html
    assert "the notebooks ran in 15 s" in html
    # the project's own notebooks have no page in this two-page book: the landing page says so
    assert "Not in this book:" in html and "05_awss_per_review" in html


def test_pages_have_titles_sidebar_pager_settings_and_no_stderr(book):
    _, report = book
    page = (report / "02_second.html").read_text()
    assert "<title>02 · Second</title>" in page
    assert 'class="sidebar"' in page and 'href="01_first.html">← 01 · First' in page
    assert "Settings of this run" in page and "<code>mode</code> = 'full'" in page
    assert "<code>seeds</code> = [0, 1]" in page
    assert "AWSS 0.500" in page and "UserWarning" not in page and "3/6" not in page
    assert "injected-parameters" not in page and '<details class="code-fold">' in page


def test_stamp_gives_the_cold_run_time_from_the_results_rows(book):
    _, report = book
    page = (report / "01_first.html").read_text()
    assert "this page's notebook ran in 12 s" in page
    assert "its 4 result rows took 1 h 02 min to compute on 2026-11-20 – 2026-11-21" in page
    assert "commit" in page and "torch" in page


def test_show_code_unfolds(tmp_path, book):
    _, report = book
    build_book(tmp_path, tmp_path / "executed", show_code=True)
    assert '<details class="code-fold">' not in (report / "01_first.html").read_text()


def test_settings_box_shows_resolved_values_and_no_local_paths(tmp_path):
    from helpers.book.site import SETTINGS_MIME
    from helpers.core.project import project_root

    nb = executed_notebook("01 · First", 1.0)
    nb.cells[2].source = f'mode = "full"\nseeds = None\nout_dir = "{project_root() / "build" / "x"}"'
    nb.cells[3].outputs.append(nbformat.v4.new_output("display_data", data={
        "text/plain": "", SETTINGS_MIME: {"seeds": [0, 1, 2, 3, 4], "out_dir": "build/x"}}))
    (tmp_path / "executed").mkdir()
    nbformat.write(nb, tmp_path / "executed" / "01_first.ipynb")
    build_book(tmp_path, tmp_path / "executed")
    page = (tmp_path / "report" / "01_first.html").read_text()
    assert "<code>seeds</code> = [0, 1, 2, 3, 4]" in page and "<code>out_dir</code> = 'build/x'" in page
    assert str(project_root()) not in page


def test_what_differs_is_read_from_what_the_run_recorded(tmp_path):
    from helpers.book.site import SETTINGS_MIME, differs_html

    def run(note: dict):
        nb = executed_notebook("01 · First", 1.0)
        nb.cells[3].outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": "", SETTINGS_MIME: note}))
        return nb

    cpu = {"encoder_name": "all-MiniLM-L6-v2", "specter_available": False, "device_used": "cpu",
           "machine": "x86_64, 2 cores", "reviews_with_text": ["nsaids", "adhd"]}
    html = differs_html([run(cpu)])
    assert "all-MiniLM-L6-v2" in html and "not available offline" in html and "no GPU" in html
    assert "2 of the 20 reviews have text here" in html and "x86_64, 2 cores" in html
    gpu = {**cpu, "encoder_name": "allenai/specter", "specter_available": True, "device_used": "cuda",
           "gpu": "NVIDIA H200", "machine": "x86_64, 16 cores"}
    html = differs_html([run(gpu)])
    assert "allenai/specter, as in the study" in html and "NVIDIA H200" in html and "no GPU" not in html
    assert "cannot be downloaded" not in html
    # the landing page of a built book shows the same, read before the pages drop their notes
    (tmp_path / "executed").mkdir()
    nbformat.write(run(cpu), tmp_path / "executed" / "01_first.ipynb")
    landing = build_book(tmp_path, tmp_path / "executed").read_text()
    assert "all-MiniLM-L6-v2" in landing and "2 of the 20 reviews have text here" in landing
