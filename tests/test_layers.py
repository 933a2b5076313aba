"""The package's folders are its layers: a module imports from its own layer and those below it,
never above (the README's architecture section draws them), so each folder can be read, tested
and changed knowing only what is under it."""

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "helpers"
LAYERS = ["core", "compute", "models", "methods", "analysis", "book", "commands"]  # bottom up


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, layer) of every import of another layer, at module level or inside a function."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        relative = re.match(r"\s*from \.\.(\w+)", line)
        absolute = re.match(r"\s*(?:from|import) helpers\.(\w+)", line)
        if relative or absolute:
            found.append((number, (relative or absolute).group(1)))
    return found


def test_every_module_lives_in_a_layer():
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py"]
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")) == sorted(LAYERS)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in sorted(PACKAGE.glob("*/*.py")):
        own = LAYERS.index(path.parent.name)
        upward += [f"{path.parent.name}/{path.name}:{n} imports from {layer}"
                   for n, layer in imports_of(path) if LAYERS.index(layer) > own]
    assert not upward, "\n".join(upward)
