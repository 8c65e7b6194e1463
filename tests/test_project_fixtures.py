"""Multi-file fixtures (`advNNN/pos_*/`, `advNNN/neg_*/`) scanned as one project through the real engine:
a positive reports exactly its `# expect:` lines, and only because the files are scanned together (each
file alone does not); a negative reports nothing for its rule."""

from __future__ import annotations

import pytest

from advisor.config import Config
from advisor.engine import scan
from advisor.fixtures_index import ProjectFixture, project_fixtures

FIXTURES = project_fixtures()


def _found(fixture: ProjectFixture, files: list) -> list[tuple[str, int, str]]:  # type: ignore[type-arg]
    result = scan(files, Config(), jobs=1)
    assert not result.errors, result.errors
    prefix = len(str(fixture.folder)) + 1
    return sorted((f.path[prefix:], f.line, f.code) for f in result.findings if f.code == fixture.code)


def test_there_are_project_fixtures_of_both_kinds() -> None:
    assert any(f.positive for f in FIXTURES) and any(not f.positive for f in FIXTURES)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f"{f.code}/{f.folder.name}")
def test_project_fixture(fixture: ProjectFixture) -> None:
    got = _found(fixture, fixture.files())
    if not fixture.positive:
        assert got == [], f"false alarm in negative project fixture {fixture.folder.name}: {got}"
        return
    want = [e for e in fixture.expected if e[2] == fixture.code]
    assert want, f"{fixture.folder.name} is a positive project fixture with no `# expect: {fixture.code}`"
    assert got == want
    alone = [hit for f in fixture.files() for hit in _found(fixture, [f])]
    assert not set(alone) & set(want), f"{fixture.folder.name}: found without the other files, so not a cross-file case: {alone}"


@pytest.mark.parametrize("fixture", [f for f in FIXTURES if f.positive], ids=lambda f: f"{f.code}/{f.folder.name}")
def test_cross_file_findings_name_the_loop_of_the_other_file(fixture: ProjectFixture) -> None:
    result = scan(fixture.files(), Config(), jobs=1)
    mine = [f for f in result.findings if f.code == fixture.code]
    assert mine
    for finding in mine:
        assert ".py:" in finding.message, finding.message
        where = finding.message.rsplit(".py:", 1)[0].rsplit(" ", 1)[-1] + ".py"
        assert where != finding.path and where.startswith(str(fixture.folder)), finding.message
