"""The size limits of issue 13 (STYLE.md: small modules, short functions), kept true.

Hand-written code is every ``.py`` file under the four packages and ``tests/``, except Alembic's
generated migrations. No such module is over 400 lines; no function or method of the four
packages is over 60 lines (a test may tell a long story; the code under test may not).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bots", "nlu", "handoff", "storage")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def hand_written(*folders: str) -> Iterator[Path]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path


def long_functions(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1  # `def` to its end
            if lines > MAX_FUNCTION_LINES:
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)"


def test_no_hand_written_module_is_over_400_lines() -> None:
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in hand_written(*PACKAGES, "tests")
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_long, f"split these by meaning (STYLE.md): {too_long}"


def test_no_function_of_the_packages_is_over_60_lines() -> None:
    too_long = [found for path in hand_written(*PACKAGES) for found in long_functions(path)]
    assert not too_long, f"split these into named steps: {too_long}"


def test_the_checks_see_the_code() -> None:
    """The walk finds the packages and leaves the migrations out (a moved tree would make the
    two tests above pass on nothing)."""
    found = {path.relative_to(ROOT).as_posix() for path in hand_written(*PACKAGES, "tests")}
    assert {"bots/app.py", "storage/inbox.py", "tests/test_code_shape.py"} <= found
    assert not any("/migrations/" in name for name in found)
