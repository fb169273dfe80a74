from __future__ import annotations

import pytest

from skills import Catalog, Skill, load_official_catalog, merge_catalog


@pytest.fixture(scope="session")
def official() -> list[Skill]:
    return load_official_catalog()


@pytest.fixture
def catalog(official: list[Skill]) -> Catalog:
    return merge_catalog(official, [])
