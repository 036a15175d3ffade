"""Fixtures shared by the test modules (the fake Discord, Gazette against it, a blog's HTTP
server and a store on 127.0.0.1)."""

import pytest

from bot.store import Store
from tests.httpserver import LocalSite

pytest_plugins = ["tests.fakediscord_fixtures", "tests.harness", "tests.wordpress_fixture"]


@pytest.fixture
async def site():
    async with LocalSite() as s:
        yield s


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(tmp_path / "gazette.sqlite3")
    yield store
    await store.close()
