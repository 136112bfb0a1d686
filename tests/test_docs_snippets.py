"""Every Python snippet of README.md and docs/**/*.md runs as written.

The snippets of one page run in order in one namespace, as a reader following the page
would run them, in a scratch folder that holds what they name: the files of
``examples/two_departments`` (``schema.toml``, ``crm.csv``, ``callcentre.csv``, their
mappings, ``truth.csv``), a ``linkage.secret``, and the two parties' encodings as
``crm.hme``/``callcentre.hme`` (with their ``.lookup`` files) and as ``a.hme``/``b.hme``.

An expression statement ending in ``# -> VALUE`` must evaluate to something whose repr is
VALUE. A block preceded by an HTML comment starting ``<!-- not-run`` (a list of signatures,
say) is skipped; there must stay only a few of those.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
NOT_RUN = "<!-- not-run"
#: Blocks allowed to be marked not-run, over all pages.
MAX_NOT_RUN = 3
_FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
_EXPECT = re.compile(r"#\s*->\s*(.+?)\s*$")
_EXAMPLE_FILES = (
    "schema.toml",
    "crm.csv",
    "crm.mapping.toml",
    "callcentre.csv",
    "callcentre.mapping.toml",
    "truth.csv",
)


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int  # of the first code line
    code: str
    run: bool


def snippets(page: Path) -> list[Snippet]:
    """The ```python blocks of a page, with whether they are marked not-run."""
    found: list[Snippet] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    k = 0
    while k < len(lines):
        fence = _FENCE.match(lines[k])
        if not fence:
            k += 1
            continue
        indent, language = fence.groups()
        end = k + 1
        while end < len(lines) and not _FENCE.match(lines[end]):
            end += 1
        if language == "python":
            before = [line for line in lines[:k] if line.strip()][-1:]
            body = [line[len(indent) :] for line in lines[k + 1 : end]]
            run = not (before and before[0].strip().startswith(NOT_RUN))
            found.append(Snippet(page, k + 2, "\n".join(body), run))
        k = end + 1
    return found


PAGES_WITH_CODE = [page for page in PAGES if any(s.run for s in snippets(page))]


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hashmatch.encode import LinkageSecret, encode_file

    root = tmp_path_factory.mktemp("docs-workspace")
    example = REPO / "examples" / "two_departments"
    for name in _EXAMPLE_FILES:
        shutil.copy(example / name, root / name)
    secret = LinkageSecret(bytes(range(32)))  # test-only, fixed
    secret.write(root / "linkage.secret")
    for party, alias in (("crm", "a"), ("callcentre", "b")):
        encode_file(
            root / f"{party}.csv",
            schema=root / "schema.toml",
            secret=secret,
            party=party,
            mapping=root / f"{party}.mapping.toml",
            out=root / f"{party}.hme",
            lookup=root / f"{party}.lookup",
            rejects=root / f"{party}.rejects.csv",
        )
        shutil.copy(root / f"{party}.hme", root / f"{alias}.hme")
    return root


def _run(snippet: Snippet, namespace: dict[str, object]) -> None:
    """Run a snippet statement by statement, checking ``# -> VALUE`` expectations."""
    page = snippet.page
    where = f"{page.relative_to(REPO) if page.is_relative_to(REPO) else page}:{snippet.line}"
    lines = snippet.code.splitlines()
    tree = ast.parse(snippet.code, filename=where)
    for statement in tree.body:
        expected = _EXPECT.search(lines[statement.end_lineno - 1])  # type: ignore[operator]
        if isinstance(statement, ast.Expr) and expected:
            expression = ast.Expression(statement.value)
            value = eval(compile(expression, where, "eval"), namespace)  # noqa: S307
            shown = f"line {snippet.line + statement.lineno - 1}"
            assert repr(value) == expected.group(1), f"{where} {shown}: got {value!r}"
        else:
            module = ast.Module([statement], type_ignores=[])
            exec(compile(module, where, "exec"), namespace)  # noqa: S102


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: str(p.relative_to(REPO)))
def test_page_snippets_run(
    page: Path, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pandas")
    work = tmp_path / "work"
    shutil.copytree(workspace, work)
    monkeypatch.chdir(work)
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    for snippet in snippets(page):
        if snippet.run:
            _run(snippet, namespace)


def test_readme_python_section_is_run() -> None:
    readme = snippets(REPO / "README.md")
    assert any("import hashmatch as hm" in s.code and s.run for s in readme)


def test_only_a_few_blocks_are_marked_not_run() -> None:
    skipped = [
        f"{s.page.relative_to(REPO)}:{s.line}" for p in PAGES for s in snippets(p) if not s.run
    ]
    assert len(skipped) <= MAX_NOT_RUN, skipped


def test_the_snippet_reader_finds_blocks_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\nx = 1\n```\n\n<!-- not-run: a signature -->\n```python\n"
        "def f(a, b) -> int\n```\n```toml\na = 1\n```\n  ```python\n  y = 2  # -> 2\n  ```\n",
        encoding="utf-8",
    )
    found = snippets(page)
    assert [(s.line, s.code, s.run) for s in found] == [
        (3, "x = 1", True),
        (8, "def f(a, b) -> int", False),
        (14, "y = 2  # -> 2", True),
    ]
    namespace: dict[str, object] = {}
    _run(Snippet(page, 1, "x = 2\nx + 1  # -> 3", True), namespace)
    with pytest.raises(AssertionError, match="got 3"):
        _run(Snippet(page, 1, "x + 1  # -> 4", True), namespace)
