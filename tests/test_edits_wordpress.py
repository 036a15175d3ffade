"""Announcements follow the article, against a real WordPress (scripts/wordpress.sh) and the
fake Discord: a retitled post's announcement and thread name are edited; a trashed post's
announcement is marked removed (the feed drops it, REST says it is not public any more)."""

from __future__ import annotations

import pytest

from bot.render.announcement import REMOVED_NOTE
from tests.harness import eventually
from tests.test_discussion_wordpress import follow_and_publish, next_second

pytest_plugins = ["tests.wordpress_fixture"]  # the wordpress and wp_blog fixtures
pytestmark = pytest.mark.wordpress


def announcement(world, title: str) -> dict | None:
    return next((m for m in world.announcements() if m["embeds"][0]["title"] == title), None)


async def test_edit_title_then_trash_post_on_wordpress(gazette_world, wp_blog):
    world = gazette_world
    created, thread_id = await follow_and_publish(
        world, wp_blog, "Original title", content="<p>Hello from WordPress.</p>"
    )
    message = await eventually(lambda: announcement(world, "Original title"))
    message_id = int(message["id"])

    await next_second()  # the feed's validators have one-second resolution
    await wp_blog.edit_post(created.id, title="Corrected title")
    await world.poll_now()
    await eventually(
        lambda: world.fake.message(message_id)["embeds"][0]["title"] == "Corrected title",
        within=15,
        what="the announcement edited",
    )
    await eventually(
        lambda: world.fake.channel(thread_id)["name"] == "Corrected title",
        what="the thread renamed",
    )
    assert len(world.announcements()) == 1  # edited, never announced again

    await next_second()
    await wp_blog.trash_post(created.id)
    await world.poll_now()
    await eventually(
        lambda: world.fake.message(message_id)["embeds"][0]["description"] == REMOVED_NOTE,
        within=15,
        what="the announcement marked removed",
    )
    assert world.fake.message(message_id)["embeds"][0]["title"] == "[Removed] Corrected title"
    await eventually(
        lambda: world.fake.channel(thread_id)["name"] == "[Removed] Corrected title",
        what="the thread marked removed",
    )
    assert len(world.announcements()) == 1  # marked, not deleted
