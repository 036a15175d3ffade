"""Digests over the wire: real discord.py against the fake Discord, a blog on 127.0.0.1, a
real SQLite, and a clock the tests move forward (the digest loop sleeps until the next
digest by that clock, and is woken as a schedule change would wake it).

A post belongs to the period in which Gazette found it: posts found before the hour are in
that hour's digest, those found after it in the next one, however late the digest is sent
(the bot was down at the hour: it is sent when it is back, once).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
import zoneinfo

from tests.harness import eventually, settle

PARIS = "Europe/Paris"


class Clock:
    """The store's digest clock: real time moved forward by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def move_to(self, when: float) -> None:
        self.offset = max(self.offset, when - time.time())


async def _started(world, channel=None, *, old: tuple[str, ...] = ()):
    """The bot started with the test's clock, following a blog (with `old` posts) in
    `channel` (default the text channel): the clock, the blog, the subscription's id."""
    world.clock = clock = Clock()
    blog = world.blog()
    for title in old:
        blog.publish(title)
    await world.start()
    return clock, blog, await _follow(world, blog, channel)


async def _follow(world, blog, channel=None) -> int:
    await world.command("feed add", {"url": blog.feed_url, "channel": channel or world.text})
    [sub] = await world.store.guild_subscriptions(world.guild)
    return sub.id


async def _digest_on(world, sub_id: int, **options) -> str:
    result = await world.command("feed digest", {"feed": str(sub_id), **options})
    assert result.ephemeral
    return result.content


async def _schedule(world):
    [schedule] = (await world.store.guild_digests(world.guild)).values()
    return schedule


async def _held(world) -> int:
    schedules = await world.store.guild_digests(world.guild)
    return sum(s.held for s in schedules.values())


def _digests(world, channel=None) -> list[dict]:
    return [
        m
        for m in world.fake.messages(channel or world.text)
        if m.get("embeds") and m["embeds"][0].get("footer", {}).get("text", "").startswith("Digest")
    ]


def _listed(message: dict) -> list[str]:
    """The post titles a digest lists, in order."""
    lines = message["embeds"][0]["description"].split("\n")
    return [line[3 : line.index("](")] for line in lines if line.startswith("• [")]


async def _found(world, blog, *titles: str) -> None:
    """Publish, have the bot find them (held for the digest, nothing announced)."""
    before = await _held(world)
    # a check still recording (its posts already held) would push back the one asked for now
    await eventually(lambda: not len(world.bot.poller._in_flight), what="checks done")
    for title in titles:
        blog.publish(title)
    await world.poll_now()
    await eventually(
        lambda: _held_is(world, before + len(titles)), what=f"{titles} held for the digest"
    )


async def _held_is(world, count: int) -> bool:
    return await _held(world) == count


def _wake(world) -> None:
    """What a schedule change does: the digest loop looks at the clock again."""
    world.store.digests_changed.set()


async def test_a_daily_digest_covers_exactly_the_posts_of_its_period(gazette_world):
    world = gazette_world
    clock, blog, sub_id = await _started(world, old=("Old post",))
    zone = await world.command("feed timezone", {"zone": PARIS})
    assert "Europe/Paris" in zone.content and "No feed is announced as a digest" in zone.content
    answer = await _digest_on(world, sub_id, schedule="daily", hour=8)
    schedule = await _schedule(world)
    local = dt.datetime.fromtimestamp(schedule.due_at, zoneinfo.ZoneInfo(PARIS))
    assert (local.hour, local.minute) == (8, 0)
    assert f"{local:%H:%M} {local.tzname()}" in answer and "daily at 08:00" in answer
    assert f"<t:{int(schedule.due_at)}:R>" in answer

    await _found(world, blog, "Monday news", "More news")
    await settle()
    assert world.announcements() == []  # held, not announced one by one

    # the hour passes; a post found after it, before the digest is claimed, is the next one's
    clock.move_to(schedule.due_at + 60)
    await _found(world, blog, "After the hour")
    _wake(world)
    [digest] = await eventually(lambda: _digests(world), what="the digest")
    assert _listed(digest) == ["Monday news", "More news"]
    embed = digest["embeds"][0]
    assert embed["title"] == "The Test Blog: 2 new posts"
    assert f"](<{blog.link(blog.posts[1])}>)" in embed["description"] or (
        f"]({blog.link(blog.posts[1])})" in embed["description"]
    )
    assert (
        embed["footer"]["text"] == f"Digest until {local:%A} {local.day} {local:%B %Y}, 08:00 CET"
    )
    request = world.fake.message_request(int(digest["id"]))
    assert request["allowed_mentions"]["parse"] == [] and request["nonce"]
    # threads are on: the digest has its discussion thread
    [thread] = await eventually(lambda: world.fake.threads(world.text), what="its thread")
    assert thread["id"] == digest["id"] and thread["name"].startswith("Digest ")
    assert await _held(world) == 1

    # the next day's digest has the rest, once
    clock.move_to((await _schedule(world)).due_at + 1)
    _wake(world)
    await eventually(lambda: len(_digests(world)) == 2, what="the second digest")
    assert _listed(_digests(world)[1]) == ["After the hour"]
    await settle()
    assert len(_digests(world)) == 2 and world.announcements() == _digests(world)


async def test_bot_down_at_the_hour_sends_the_digest_once_when_back(gazette_world):
    world = gazette_world
    clock, blog, sub_id = await _started(world)
    await _digest_on(world, sub_id, schedule="daily", hour=20)
    schedule = await _schedule(world)
    await _found(world, blog, "First", "Second")

    await world.stop()  # down before the hour, back after it
    clock.move_to(schedule.due_at + 3 * 3600)
    blog.publish("Published while down")
    await world.start()
    await world.poll_now()
    [digest] = await eventually(lambda: _digests(world), what="the late digest")
    assert _listed(digest) == ["First", "Second"]
    # found after the hour: the next digest's (not lost, not announced alone)
    await eventually(lambda: _held_is(world, 1), what="the post found after the hour")
    await world.restart()
    await settle()
    assert len(_digests(world)) == 1 and len(world.announcements()) == 1
    assert len(world.fake.requests_to("POST", rf"/channels/{world.text}/messages")) == 1


async def test_killed_while_sending_a_digest_sends_it_once(gazette_world):
    world = gazette_world
    clock, blog, sub_id = await _started(world, world.news)
    await _digest_on(world, sub_id, schedule="daily", hour=6)
    await _found(world, blog, "One", "Two")
    # Discord makes the message, the bot dies before it hears back
    stall = world.fake.stall("POST", rf"/channels/{world.news}/messages")
    clock.move_to((await _schedule(world)).due_at + 1)
    _wake(world)
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    # down for longer than Discord remembers nonces: the channel is read back instead
    world.fake.nonce_window = 0
    for n in range(60):
        world.fake.post_user_message(world.news, f"chat {n}")
    with sqlite3.connect(world.db_path) as db:
        db.execute("UPDATE digests SET started_at = started_at - 3600")

    await world.start()
    [digest] = await eventually(lambda: _digests(world, world.news), what="the digest")
    await eventually(lambda: world.fake.is_published(int(digest["id"])), what="published")
    await eventually(lambda: world.fake.threads(world.news), what="its thread")
    await settle()
    assert len(_digests(world, world.news)) == 1 and _listed(digest) == ["One", "Two"]
    assert len(world.fake.threads(world.news)) == 1
    assert await world.store.due_digests(time.time() + 3600) == []


async def test_weekly_digest_in_the_servers_time_zone(gazette_world):
    world = gazette_world
    clock, blog, sub_id = await _started(world)
    choices = await world.fake.autocomplete(
        world.guild, world.text, "feed timezone", option="zone", value="new_york"
    )
    assert [c["value"] for c in choices] == ["America/New_York"]
    unknown = await world.command("feed timezone", {"zone": "Mars/Olympus"})
    assert unknown.ephemeral and "Unknown time zone" in unknown.content
    await world.command("feed timezone", {"zone": "America/New_York"})
    missing = await world.command(
        "feed digest", {"feed": str(sub_id), "schedule": "weekly", "hour": 18}
    )
    assert "weekday" in missing.content
    answer = await _digest_on(world, sub_id, schedule="weekly", hour=18, weekday=4)
    assert "weekly on Friday at 18:00 (America/New_York" in answer
    due = (await _schedule(world)).due_at
    local = dt.datetime.fromtimestamp(due, zoneinfo.ZoneInfo("America/New_York"))
    assert (local.weekday(), local.hour, local.minute) == (4, 18, 0)
    assert 0 < due - clock() <= 7 * 86400
    assert f"Friday {local.day} {local:%B %Y}, 18:00 {local.tzname()}" in answer

    listing = await world.command("feed list")
    lines = listing.embeds[0]["fields"][0]["value"]
    assert "Digest weekly on Friday at 18:00 (America/New_York), next Friday" in lines

    # another zone: the same local hour, another instant, said in the answer
    moved = await world.command("feed timezone", {"zone": "Asia/Tokyo"})
    tokyo_due = (await _schedule(world)).due_at
    tokyo = dt.datetime.fromtimestamp(tokyo_due, zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert (tokyo.weekday(), tokyo.hour) == (4, 18) and tokyo_due != due
    assert f"weekly on Friday at 18:00, next Friday {tokyo.day} {tokyo:%B %Y}, 18:00 JST" in (
        moved.content
    )

    await _found(world, blog, "Weekly one")
    clock.move_to(tokyo_due + 1)
    _wake(world)
    [digest] = await eventually(lambda: _digests(world), what="the weekly digest")
    assert _listed(digest) == ["Weekly one"]
    assert digest["embeds"][0]["footer"]["text"].endswith(", 18:00 JST")
    next_due = (await _schedule(world)).due_at
    assert round(next_due - tokyo_due) == 7 * 86400


async def test_switching_off_sends_what_waits_and_on_again_repeats_nothing(gazette_world):
    world = gazette_world
    _, blog, sub_id = await _started(world, world.forum)
    await _digest_on(world, sub_id, schedule="daily", hour=9)
    await _found(world, blog, "Held one", "Held two")

    off = await _digest_on(world, sub_id, schedule="off")
    assert "announced one by one again" in off and "2 post(s) waiting" in off
    # at once, as a last digest: in a forum, a forum post of its own
    [post] = await eventually(lambda: world.fake.threads(world.forum), what="the last digest")
    assert post["name"].startswith("Digest ") and post["name"].endswith(": The Test Blog")
    assert _listed(world.fake.message(int(post["id"]))) == ["Held one", "Held two"]

    blog.publish("One by one")
    await world.poll_now()
    await eventually(lambda: len(world.fake.threads(world.forum)) == 2, what="the post")
    assert world.fake.threads(world.forum)[1]["name"] == "One by one"

    # on again: nothing found before is announced again, new posts wait
    await _digest_on(world, sub_id, schedule="daily", hour=9)
    await world.poll_now()
    await _found(world, blog, "Held again")
    await settle()
    assert len(world.fake.threads(world.forum)) == 2
    listing = await world.command("feed list")
    assert "1 post(s) waiting" in listing.embeds[0]["fields"][0]["value"]


async def test_a_digest_discord_refuses_waits_shows_why_and_goes_out_once(gazette_world):
    world = gazette_world
    clock, blog, sub_id = await _started(world)
    await _digest_on(world, sub_id, schedule="daily", hour=12)
    await _found(world, blog, "Waiting")
    denied = world.fake.fail("POST", rf"/channels/{world.text}/messages", 403, times=None)
    clock.move_to((await _schedule(world)).due_at + 1)
    _wake(world)
    await eventually(lambda: denied.hits >= 2, what="the digest retried")
    listing = await world.command("feed list")
    lines = listing.embeds[0]["fields"][0]["value"]
    assert "A digest is not sent yet, retrying: Missing permissions" in lines
    world.fake.clear_faults()
    [digest] = await eventually(lambda: _digests(world), what="the digest, once allowed")
    assert _listed(digest) == ["Waiting"]
    await settle()
    assert len(_digests(world)) == 1
    listing = await world.command("feed list")
    assert "not sent yet" not in listing.embeds[0]["fields"][0]["value"]


async def test_a_long_period_is_one_message_within_discords_limits(gazette_world):
    world = gazette_world
    clock, blog, sub_id = await _started(world)
    await _digest_on(world, sub_id, schedule="daily", hour=7)
    titles = [f"@everyone [{n}](https://evil.test) " + "word " * 40 for n in range(25)]
    for start in range(0, 25, 5):  # a check announces five new posts at most
        await _found(world, blog, *titles[start : start + 5])
    clock.move_to((await _schedule(world)).due_at + 1)
    _wake(world)
    [digest] = await eventually(lambda: _digests(world), what="the digest")
    embed = digest["embeds"][0]
    assert embed["title"] == "The Test Blog: 25 new posts"
    lines = embed["description"].split("\n")
    shown = len(lines) - 1
    assert 5 < shown < 25 and len(embed["description"]) <= 4096
    assert lines[-1] == f"…and {25 - shown} more posts (find them with `/archive latest`)"
    assert digest["mention_everyone"] is False and "@everyone" not in embed["description"]
    assert all(line.startswith("• [@\u200beveryone \\[") for line in lines[:-1])
    await settle()
    assert len(_digests(world)) == 1


async def test_a_digest_whose_embed_is_refused_goes_out_as_text(gazette_world):
    world = gazette_world
    clock, blog, sub_id = await _started(world)
    await _digest_on(world, sub_id, schedule="daily", hour=3)
    await _found(world, blog, "Plainly")
    refused = world.fake.fail(
        "POST",
        rf"/channels/{world.text}/messages",
        400,
        times=None,
        when=lambda body: bool(body.get("embeds")),
    )
    clock.move_to((await _schedule(world)).due_at + 1)
    _wake(world)
    [message] = await eventually(lambda: world.fake.messages(world.text), what="the text")
    assert refused.hits == 1
    post = blog.posts[0]
    assert message["content"].startswith(
        f"**The Test Blog: 1 new post**\n• [Plainly](<{blog.link(post)}>) — Ada Writer\n-# Digest"
    )
    await settle()
    assert len(world.fake.messages(world.text)) == 1


async def test_a_burst_of_posts_is_all_in_the_digest(gazette_world):
    # eight posts found at once (a blog's batch, or a day the bot was down): a channel
    # announcing post by post gets the newest five (no flood); the digest lists all eight
    world = gazette_world
    clock, blog, sub_id = await _started(world)
    await world.command("feed add", {"url": blog.feed_url, "channel": world.news})
    await _digest_on(world, sub_id, schedule="daily", hour=8)
    schedule = await _schedule(world)
    titles = [f"Batch {n}" for n in range(8)]
    for title in titles:
        blog.publish(title)
    await world.poll_now()
    await eventually(lambda: len(world.announcements(world.news)) == 5, what="five announced")
    await eventually(lambda: _held_is(world, 8), what="all eight held")
    clock.move_to(schedule.due_at + 60)
    _wake(world)
    [digest] = await eventually(lambda: _digests(world), what="the digest")
    assert _listed(digest) == titles
    await settle()
    assert len(world.announcements(world.news)) == 5
