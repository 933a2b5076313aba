"""The HTML book: executed notebooks → one static site (``report/index.html`` + a page each).

Built with nbconvert (a template extending JupyterLab's, and preprocessing of the executed
notebooks) rather than jupyter-book or Quarto: it adds no toolchain, builds in seconds from
notebooks papermill already executed, and gives what a reader needs — a landing page, a
sidebar and previous/next links on every page, code folded by default, the run's parameters
as one settings box, no stderr (warnings and progress bars stay on the terminal), and a build
stamp (date, commit, versions, machine, mode, and the wall time of the run that produced the
numbers, read from the results rows so a warm re-run shows the cold run's times).

Notebooks talk to the book through output types of their own, written by ``helpers.book.page``: a
headline (shown in the page and listed on the landing page), a compute note (the results rows a
page shows: their compute time goes into the stamp) and a settings note (the run's resolved
settings and what it ran on: the settings box and the "what differs" box read them).
"""

from __future__ import annotations

import ast
import html
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import nbformat

from ..core.project import machine_description, notebook_paths, project_root
from .page import COMPUTE_MIME, HEADLINE_MIME, SETTINGS_MIME, shown

STAMP_PACKAGES = ("slr-screening-helpers", "torch", "transformers", "peft", "sentence-transformers", "setfit",
                  "scikit-learn", "asreview", "pandas", "papermill", "nbconvert")
LANDING_TITLE = "Few-shot citation screening: a reproducible report"


# ---------------------------------------------------------------- reading executed notebooks

def _outputs(nb, mime: str) -> list:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "display_data" and mime in o.get("data", {})]


def page_title(nb, fallback: str) -> str:
    """The notebook's first Markdown heading (without the '#')."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def run_parameters(nb) -> dict:
    """The parameters the run used: the parameters cell's defaults, overridden by what
    papermill injected. Both cells are then removed from the page."""
    params = {}
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and ("parameters" in tags or "injected-parameters" in tags):
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                    try:
                        params[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        params[node.targets[0].id] = ast.unparse(node.value)
    return params


def clean(nb) -> None:
    """Drop the parameters cells (shown as the settings box instead), every stderr stream
    (warnings, progress), and the book's own invisible outputs."""
    keep = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags or "remove-cell" in tags:
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                            and COMPUTE_MIME not in o.get("data", {}) and SETTINGS_MIME not in o.get("data", {})]
            if "remove-input" in tags:
                cell.source = ""
        keep.append(cell)
    nb.cells = keep


# ---------------------------------------------------------------- page parts

def _git_commit(root: Path) -> str:
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "src", "notebooks"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" + uncommitted changes to src/ or notebooks/" if dirty else "")


def _versions() -> str:
    found = []
    for name in STAMP_PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    return f"{minutes} min {sec:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def stamp_html(nb, *, mode: str, built: str, commit: str, versions: str) -> str:
    """The build stamp of one page."""
    ran = nb.metadata.get("papermill", {}).get("duration")
    notes = _outputs(nb, COMPUTE_MIME)
    parts = [f"built {built}", f"commit {commit}", f"mode {mode}", f"machine: {machine_description()}"]
    if ran is not None:
        parts.append(f"this page's notebook ran in {_duration(ran)}")
    if notes:
        seconds = sum(n["seconds"] for n in notes)
        rows = sum(n["rows"] for n in notes)
        when = sorted({d[:10] for n in notes for d in (n["first"], n["last"]) if d})
        where = sorted({m for n in notes for m in n.get("machines", [])})
        span = f" on {' – '.join(when[::max(1, len(when) - 1)])}" if when else ""
        parts.append(f"its {rows:,} result rows took {_duration(seconds)} to compute{span}"
                     + (f" ({'; '.join(where)})" if where else ""))
    return (f'<footer class="stamp">{" · ".join(html.escape(p) for p in parts)}<br>'
            f'{html.escape(versions)}</footer>')


def settings_html(params: dict) -> str:
    """The run's parameters as one compact box."""
    cells = "".join(f"<span><code>{html.escape(k)}</code> = {html.escape(repr(v))}</span>"
                    for k, v in params.items())
    return f'<aside class="settings"><strong>Settings of this run</strong> {cells}</aside>'


def sidebar_html(pages: list[tuple[str, str]], current: str) -> str:
    items = "".join(
        f'<li{" class=current" if href == current else ""}><a href="{href}">{html.escape(title)}</a></li>'
        for href, title in pages)
    return (f'<nav class="sidebar"><a class="home" href="index.html">{html.escape(LANDING_TITLE)}</a>'
            f"<ol>{items}</ol></nav>")


def pager_html(pages: list[tuple[str, str]], current: str) -> str:
    hrefs = ["index.html"] + [h for h, _ in pages]
    titles = {"index.html": "Overview", **dict(pages)}
    i = hrefs.index(current)
    prev = f'<a class="prev" href="{hrefs[i - 1]}">← {html.escape(titles[hrefs[i - 1]])}</a>' if i > 0 else "<span></span>"
    nxt = (f'<a class="next" href="{hrefs[i + 1]}">{html.escape(titles[hrefs[i + 1]])} →</a>'
           if i + 1 < len(hrefs) else "<span></span>")
    return f'<div class="pager">{prev}{nxt}</div>'


CSS = """
body.book { margin: 0; }
.sidebar, .settings, .pager, .stamp, details.code-fold > summary {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.sidebar { position: fixed; top: 0; left: 0; bottom: 0; width: 250px; overflow-y: auto; padding: 18px 14px;
  background: #f6f7f9; border-right: 1px solid #dde1e6; font-size: 14px; box-sizing: border-box; }
.sidebar .home { font-weight: 600; display: block; margin-bottom: 12px; color: #1b1f24; text-decoration: none; }
.sidebar ol { padding-left: 0; list-style: none; margin: 0; }
.sidebar li { margin: 6px 0; }
.sidebar li a { color: #2f5597; text-decoration: none; }
.sidebar li.current a { font-weight: 600; color: #1b1f24; }
.book-main { margin-left: 270px; max-width: 1100px; padding: 10px 24px 40px 10px; }
.settings { background: #eef3fb; border: 1px solid #c9d7ee; border-radius: 6px; padding: 8px 12px;
  margin: 14px 0 6px 0; font-size: 13px; line-height: 1.8; }
.settings span { margin-right: 14px; display: inline-block; }
details.code-fold > summary { cursor: pointer; color: #6a737d; font-size: 12px; margin: 2px 0 2px 0; }
.pager { display: flex; justify-content: space-between; margin: 30px 0 10px 0; font-size: 14px; }
.stamp { border-top: 1px solid #dde1e6; margin-top: 12px; padding-top: 8px; color: #6a737d; font-size: 12px; }
.differs { background: #fff8e6; border: 1px solid #f0d58c; border-radius: 6px; padding: 10px 16px; margin: 14px 0; }
table.findings { border-collapse: collapse; margin: 10px 0; }
table.findings td, table.findings th { border-bottom: 1px solid #dde1e6; padding: 6px 10px; vertical-align: top;
  text-align: left; }
.jp-RenderedHTMLCommon table { font-variant-numeric: tabular-nums; }
"""


# ---------------------------------------------------------------- the book

def export_page(nb, *, href: str, pages: list[tuple[str, str]], show_code: bool, stamp: str) -> str:
    """One executed, cleaned notebook as a book page (HTML text)."""
    from nbconvert import HTMLExporter

    params = run_parameters(nb)
    resolved = next(iter(_outputs(nb, SETTINGS_MIME)), {})
    params = {k: resolved.get(k, v) if v is None or k in ("out_dir", "data_dir") else v for k, v in params.items()}
    params = {k: shown(v) for k, v in params.items()}
    clean(nb)
    nb.metadata["title"] = dict(pages)[href]
    exporter = HTMLExporter(template_name="book_template",
                            extra_template_basedirs=[str(Path(__file__).parent)])
    resources = {"book": {"css": CSS, "sidebar": sidebar_html(pages, href), "settings": settings_html(params),
                          "pager": pager_html(pages, href), "stamp": stamp, "show_code": show_code}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def not_run_html(absent: list[str], mode: str) -> str:
    """A visible note naming the sections that have no page in this book, so a partial book is
    never mistaken for a whole one."""
    if not absent:
        return ""
    return (f'<div class="differs"><strong>Not in this book:</strong> {html.escape(", ".join(absent))} — '
            f"not yet executed in {html.escape(mode)} mode for this build (the README's <em>Status</em> says "
            "why and how long they take). Their smoke-mode pages come from <code>make smoke</code>.</div>")


def landing_html(pages: list[tuple[str, str]], headlines: dict[str, list[str]], *, differs: str,
                 stamp: str, not_run: str = "") -> str:
    """``index.html``: what the study is, what differs here, and the headline findings."""
    import mistune

    rows = "".join(
        f'<tr><td><a href="{href}">{html.escape(title)}</a></td><td>'
        + "".join(mistune.html(t) for t in headlines.get(href, [])) + "</td></tr>"
        for href, title in pages)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(LANDING_TITLE)}</title><style>{CSS}
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; line-height: 1.5; }}
</style></head>
<body class="book">{sidebar_html(pages, "index.html")}<main class="book-main">
<h1>{html.escape(LANDING_TITLE)}</h1>
<p>This book regenerates every figure and table of a 2025 study on <strong>few-shot citation screening</strong>
for systematic literature reviews: a small scientific-text encoder is adapted to a review from only
<strong>8 included and 8 excluded</strong> labelled citations (SetFit-style contrastive fine-tuning with LoRA),
a logistic regression then ranks the remaining citations, and the ranking is scored by
<strong>AWSS@95</strong> — the share of reading work saved while still finding 95&nbsp;% of the included
citations. The study also compresses the adapted encoder (4-bit, Wanda pruning) and composes the LoRA
"skills" of several reviews. Each page below is one section, executed from the notebooks of this
repository; every number on it is computed, and the build stamp at its foot says when, where and from
which commit.</p>
<div class="differs">{differs}</div>{not_run}
<h2>Headline findings</h2>
<table class="findings"><thead><tr><th>section</th><th>what it shows</th></tr></thead><tbody>{rows}</tbody></table>
<p>Reading a page: code is folded (click <em>code</em> to see it); the box at the top of each page gives the
settings of the run; re-run any notebook in JupyterLab (<code>make lab</code>) or the whole book with
<code>make report</code>.</p>
{pager_html(pages, "index.html")}{stamp}</main></body></html>"""


def differs_html(executed: list) -> str:
    """What differs from the study, read from what the executed notebooks recorded of their own
    run (``helpers.book.page.settings_note``): the encoder each used, whether SPECTER was available
    offline, the data folder's reviews, the device and the machine."""
    from ..core.data import REVIEWS

    notes = [n for nb in executed for n in _outputs(nb, SETTINGS_MIME)]
    encoders = sorted({n.get("encoder_name", "?") for n in notes})
    machines = sorted({n.get("machine", "?") for n in notes})
    devices = sorted({n.get("gpu") or n.get("device_used", "?") for n in notes})
    present = sorted({r for n in notes for r in n.get("reviews_with_text", [])})
    missing = [r for r in REVIEWS if r not in present]
    if encoders == ["allenai/specter"]:
        encoder_note = "allenai/specter, as in the study."
    else:
        why = ("allenai/specter was not available offline on the machine that ran it"
               if not any(n.get("specter_available") for n in notes) else "chosen with --encoder")
        encoder_note = (f"{', '.join(encoders)} (the study: allenai/specter, 768-d [CLS]); {why}. Timing and "
                        "memory tables also use a randomly initialised model with SPECTER's exact configuration, "
                        "labelled so.")
    gpu = any(n.get("gpu") for n in notes)
    return ("<strong>What differs from the study here.</strong><ul>"
            f"<li><strong>Encoder</strong>: {html.escape(encoder_note)}</li>"
            f"<li><strong>Data</strong>: {len(present)} of the 20 reviews have text here; missing: "
            f"{html.escape(', '.join(missing) or 'none')} (labels or PubMed ids only; fetched with internet).</li>"
            "<li><strong>Seeds</strong>: the study drew its 8 + 8 training citations once; here every setting is "
            "run over several seeds and reported with its spread and paired tests.</li>"
            f"<li><strong>Hardware</strong>: {html.escape('; '.join(machines))}, on {html.escape(', '.join(devices))}"
            + ("" if gpu else " (no GPU; the study's Table 2 machine had one)") + ".</li></ul>")


def build_book(out_dir: Path, executed_dir: Path, *, show_code: bool = False, mode: str = "full") -> Path:
    """Write ``<out_dir>/report/index.html`` and one page per executed notebook; returns the
    index path. Takes seconds: nothing is executed here."""
    start = time.perf_counter()
    report_dir = Path(out_dir) / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = sorted(Path(executed_dir).glob("[0-9][0-9]_*.ipynb"))
    notebooks = [nbformat.read(p, as_version=4) for p in paths]
    pages = [(p.stem + ".html", page_title(nb, p.stem)) for p, nb in zip(paths, notebooks)]
    built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit, versions = _git_commit(project_root()), _versions()
    headlines = {href: [h["text"] for h in _outputs(nb, HEADLINE_MIME)] for (href, _), nb in zip(pages, notebooks)}
    differs = differs_html(notebooks)  # before export_page cleans the notes out of the notebooks
    for (href, _), nb in zip(pages, notebooks):
        stamp = stamp_html(nb, mode=mode, built=built, commit=commit, versions=versions)
        (report_dir / href).write_text(export_page(nb, href=href, pages=pages, show_code=show_code, stamp=stamp),
                                       encoding="utf-8")
    total = sum(nb.metadata.get("papermill", {}).get("duration") or 0 for nb in notebooks)
    landing_stamp = (f'<footer class="stamp">built {built} · commit {html.escape(commit)} · mode {mode} · '
                     f"machine: {html.escape(machine_description())} · the notebooks ran in {_duration(total)} · "
                     f"book built in {time.perf_counter() - start:.1f} s<br>{html.escape(versions)}</footer>")
    index = report_dir / "index.html"
    absent = [nb.stem for nb in notebook_paths() if nb.stem not in {p.stem for p in paths}]
    index.write_text(landing_html(pages, headlines, differs=differs, stamp=landing_stamp,
                                  not_run=not_run_html(absent, mode)), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.book.site [--show-code]``: rebuild the book from report/executed/."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m helpers.book.site", description=main.__doc__)
    p.add_argument("--out-dir", default=str(project_root()))
    p.add_argument("--mode", default="full")
    p.add_argument("--show-code", action="store_true")
    a = p.parse_args(argv)
    executed = Path(a.out_dir) / "report" / "executed"
    print(build_book(Path(a.out_dir), executed, show_code=a.show_code, mode=a.mode))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
