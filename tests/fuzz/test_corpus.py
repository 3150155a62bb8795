"""Every hostile file of the corpus, and every special file, against every command that reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import SPECIALS, SURFACES, corpus_cases, run_surface

CASES = corpus_cases()


@pytest.mark.parametrize(
    ("surface", "path"), [(s, p) for s, _, p in CASES], ids=[i for _, i, _ in CASES]
)
def test_corpus_file(surface: str, path: Path, tmp_path: Path) -> None:
    outcome = run_surface(surface, path.read_bytes(), tmp_path / "case")
    assert not outcome.problems(), (outcome.problems(), outcome.err[-2000:])


@pytest.mark.parametrize("special", SPECIALS)
@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_special_file(surface: str, special: str, tmp_path: Path) -> None:
    outcome = run_surface(surface, special, tmp_path / "case")
    assert not outcome.problems(), (outcome.problems(), outcome.err[-2000:])


def test_the_corpus_feeds_every_surface() -> None:
    fed = {surface for surface, _, _ in CASES}
    assert fed == set(SURFACES)
    assert len(CASES) >= 150
