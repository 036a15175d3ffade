"""Fixtures shared by the test modules (the fake Discord, Gazette against it, a blog's HTTP
server, a store, an HTTP session and the feed poller on 127.0.0.1)."""

import pytest

from bot.fetch import Fetcher, create_session
from bot.poller import FeedPoller
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


@pytest.fixture
async def session():
    async with create_session(allow_private=True) as s:
        yield s


@pytest.fixture
def fetcher(session):
    return Fetcher(session)


@pytest.fixture
async def poller(store):
    async with create_session(allow_private=True) as session:
        yield FeedPoller(store, Fetcher(session, read_timeout=1.0), default_interval=60)
