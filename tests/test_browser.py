"""The committed HTML book, opened in a real headless browser (Debian's chromium)."""

import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "report"
SHOTS = ROOT / "build" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FORBIDDEN = {
    "a traceback": re.compile(r"Traceback"),
    "a warning": re.compile(r"Warning"),
    "a local file-system path": re.compile(r"(?<![\w.])/(work|tmp|home|root|Users|var)/[\w.-]"),
    "a progress-bar line": re.compile(r"\d+%\|[^|]*\||\d+(\.\d+)?(it/s|s/it)\]"),
}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-headless-shell")
    if not found:
        pytest.skip("no headless Chromium here (Debian: apt-get install chromium; .ci/run installs it as root)")
    return found


def pages() -> list[Path]:
    return [BOOK / "index.html", *sorted(BOOK.glob("[0-9][0-9]_*.html"))]


def test_every_page_loads_its_images_links_resolve_and_no_noise_shows():
    from playwright.sync_api import sync_playwright

    executable = chromium()
    assert (BOOK / "index.html").is_file(), "report/index.html is missing: run make report"
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path in pages():
            page.goto(path.as_uri(), wait_until="load")
            broken = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                                                      ".map(i => i.alt || i.src.slice(0, 60))")
            problems += [f"{path.name}: image not loaded: {b}" for b in broken]
            for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
                target = urlparse(href)
                if target.scheme in ("http", "https", "mailto") or not target.path:
                    continue
                if not (path.parent / unquote(target.path)).is_file():
                    problems.append(f"{path.name}: link to a missing page {href}")
            text = page.inner_text("body")
            problems += [f"{path.name}: shows {what}: {m.group(0)!r}" for what, rx in FORBIDDEN.items()
                         for m in [rx.search(text)] if m]
            page.screenshot(path=str(SHOTS / f"{path.stem}.png"), full_page=False)
        browser.close()
    # every notebook has a page, or the landing page names it as not in this (partial) book
    from helpers.commands.report import notebooks

    landing = (BOOK / "index.html").read_text(encoding="utf-8")
    for nb in notebooks():
        if not (BOOK / f"{nb.stem}.html").is_file():
            assert "Not in this book:" in landing and nb.stem in landing, f"{nb.stem}: neither a page nor named"
    assert len(pages()) >= 2
    assert not problems, "\n".join(problems)
