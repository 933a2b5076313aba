"""Random bytes, random headers and random option values thrown at slr-screen and the report runner:
each run ends with exit 0, or exit 2 and one line naming the file, column, record or option — never
a traceback, and nothing left behind beside the input."""

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.commands import report, screen

SUFFIXES = [".csv", ".tsv", ".xlsx", ".ris", ".txt"]
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run(main, argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    return code, capsys.readouterr().err


def assert_clean(code: int, err: str, *, names: tuple[str, ...]) -> None:
    assert code in (0, 2), err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip() and "Warning" not in line and "warn" not in line]
        assert len(lines) == 1, err
        assert "Traceback" not in err and any(n in lines[0] for n in names), lines[0]


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep and not p.name.endswith(".ranked.csv"))


@FUZZ
@given(content=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_are_read_or_refused_by_name(content, suffix, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / f"refs{suffix}"
    path.write_bytes(content)
    code, err = run(screen.main, [str(path), "--method", "tfidf"], capsys)
    assert_clean(code, err, names=(str(path), "refs"))
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no hidden temp left


header_names = st.lists(st.text(alphabet=string.ascii_letters + "_ ", min_size=1, max_size=12), min_size=1, max_size=5)


@FUZZ
@given(names=header_names, rows=st.lists(st.lists(st.sampled_from(["yes", "no", "", "1", "0", "drug trial", "x"]),
                                                  min_size=5, max_size=5), min_size=1, max_size=25))
def test_random_headers_are_read_or_refused_by_name(names, rows, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("headers")
    path = folder / "refs.csv"
    width = len(names)
    lines = [",".join(names)] + [",".join(r[:width] + [""] * (width - len(r[:width]))) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    code, err = run(screen.main, [str(path), "--method", "tfidf"], capsys)
    assert_clean(code, err, names=(str(path),))


@FUZZ
@given(consecutive=st.integers(-10, 60), target=st.floats(-1, 2) | st.just(float("nan")), confidence=st.floats(-1, 2),
       seed=st.integers(-5, 5), method=st.sampled_from(["tfidf", "asreview", "svm", ""]),
       output=st.sampled_from(["out.csv", "out.docx", "sub", "refs.csv", "file/under.csv"]))
def test_random_option_values_are_used_or_refused_by_name(consecutive, target, confidence, seed, method, output,
                                                          tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("options")
    path = folder / "refs.csv"
    path.write_text("title,abstract,included\n" + "\n".join(
        f"drug trial {i},placebo dose {i % 7} patients,{'yes' if i < 3 else 'no' if i < 6 else ''}" for i in range(30)) + "\n")
    (folder / "sub").mkdir()
    (folder / "file").write_text("a file, not a folder")
    before = path.read_bytes()
    code, err = run(screen.main, [str(path), "--check-stopping", "--consecutive", str(consecutive), "--recall-target",
                                  str(target), "--confidence", str(confidence), "--seed", str(seed)], capsys)
    assert_clean(code, err, names=("--consecutive", "--recall-target", "--confidence", "--seed", str(path)))
    code, err = run(screen.main, [str(path), "--method", method, "--output", str(folder / output)], capsys)
    assert_clean(code, err, names=("--method", "--output", "--seed", str(path)))
    assert path.read_bytes() == before


@FUZZ
@given(jobs=st.integers(-3, 0), seeds=st.lists(st.integers(-3, 3), min_size=1, max_size=3),
       country=st.text(alphabet=string.ascii_letters + "1", max_size=4),
       out=st.sampled_from(["/dev/null/x", "file/under", None]),
       scheduler=st.sampled_from([None, "local:0", "tcp://", "tcp://127.0.0.1:9", "loc"]))
def test_the_runner_refuses_bad_options_by_name_before_any_work(jobs, seeds, country, out, scheduler, tmp_path_factory,
                                                                capsys):
    folder = tmp_path_factory.mktemp("runner")
    (folder / "file").write_text("a file")
    argv = ["--jobs", str(jobs), "--seeds", *map(str, seeds), "--country", country or "X"]  # --jobs <= 0: never runs
    if out:
        argv += ["--out-dir", out if out.startswith("/") else str(folder / out)]
    if scheduler:
        argv += ["--scheduler", scheduler]
    code, err = run(report.main, argv, capsys)
    assert code == 2
    assert_clean(code, err, names=("--jobs", "--seeds", "--country", "--out-dir", "--scheduler"))
    assert leftovers(folder, {"file"}) == []
