"""Digests without Discord: when they are due (time zones, daylight saving time), what one
says within Discord's limits, and which held posts a period claims (real SQLite, a clock the
tests move)."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo

import pytest

from bot.digests import UnknownZone, next_due, time_zone
from bot.models import Entry, Post
from bot.render.digest import MAX_LINES, render_digest
from bot.render.markdown import DESCRIPTION_LIMIT, TOTAL_LIMIT
from cogs.announcer._digests import digest_embed
from cogs.feeds._digests import zone_choices

UTC = dt.UTC
PARIS = "Europe/Paris"


def _at(*args, zone: str = "UTC") -> float:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone)).timestamp()


def _utc(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, UTC)


# =========================================================================== schedules


def test_daily_and_weekly_times_in_the_servers_zone():
    # Wednesday 2 December 2026, 10:30 in Paris (UTC+1)
    now = _at(2026, 12, 2, 10, 30, zone=PARIS)
    assert _utc(next_due("daily", 8, 0, PARIS, now)) == dt.datetime(2026, 12, 3, 7, tzinfo=UTC)
    assert _utc(next_due("daily", 11, 0, PARIS, now)) == dt.datetime(2026, 12, 2, 10, tzinfo=UTC)
    # weekly on Monday at 8: the coming Monday; on Wednesday at 8 (passed today): next week
    assert _utc(next_due("weekly", 8, 0, PARIS, now)) == dt.datetime(2026, 12, 7, 7, tzinfo=UTC)
    assert _utc(next_due("weekly", 8, 2, PARIS, now)) == dt.datetime(2026, 12, 9, 7, tzinfo=UTC)
    assert _utc(next_due("weekly", 11, 2, PARIS, now)) == dt.datetime(2026, 12, 2, 10, tzinfo=UTC)
    # strictly after: at the very time, the next one
    due = next_due("daily", 8, 0, "UTC", _at(2026, 12, 2, 8))
    assert _utc(due) == dt.datetime(2026, 12, 3, 8, tzinfo=UTC)
    assert next_due("off", 8, 0, PARIS, now) is None
    # the same hour elsewhere is another instant
    tokyo = next_due("daily", 8, 0, "Asia/Tokyo", now)
    assert _utc(tokyo) == dt.datetime(2026, 12, 2, 23, tzinfo=UTC)


def test_an_hour_that_does_not_exist_goes_out_when_the_clocks_jump():
    # 29 March 2026 in Paris: 02:00 CET jumps to 03:00 CEST; a digest at 2 goes at 01:00 UTC
    before = _at(2026, 3, 28, 12, zone=PARIS)
    due = next_due("daily", 2, 0, PARIS, before)
    assert _utc(due) == dt.datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert dt.datetime.fromtimestamp(due, zoneinfo.ZoneInfo(PARIS)).hour == 3  # the new time
    # and the day after, 02:00 CEST again: exactly one digest a day
    assert _utc(next_due("daily", 2, 0, PARIS, due)) == dt.datetime(2026, 3, 30, 0, tzinfo=UTC)
    # a weekly digest on that Sunday too
    weekly = next_due("weekly", 2, 6, PARIS, before)
    assert weekly == due


def test_an_hour_that_happens_twice_goes_out_once_at_the_first():
    # 25 October 2026 in Paris: 03:00 CEST goes back to 02:00 CET; 02:00 happens twice
    before = _at(2026, 10, 24, 12, zone=PARIS)
    first = next_due("daily", 2, 0, PARIS, before)
    assert _utc(first) == dt.datetime(2026, 10, 25, 0, tzinfo=UTC)  # 02:00 CEST
    # after it, not the second 02:00 (01:00 UTC) but the next day's
    after = next_due("daily", 2, 0, PARIS, first)
    assert _utc(after) == dt.datetime(2026, 10, 26, 1, tzinfo=UTC)  # 02:00 CET
    # asked between the two 02:00s: still the next day's
    between = _at(2026, 10, 25, 0, 30, zone="UTC")
    assert next_due("daily", 2, 0, PARIS, between) == after


def test_zone_names_are_checked():
    assert time_zone("europe/paris").key == PARIS
    assert time_zone(" UTC ").key == "UTC"
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "Europe"):
        with pytest.raises(UnknownZone):
            time_zone(bad)
    # a zone saved earlier that this machine no longer knows: UTC, never a failing loop
    after = _at(2026, 12, 2, 10)
    assert next_due("daily", 8, 0, "Gone/Away", after) == next_due("daily", 8, 0, "UTC", after)
    choices = zone_choices("paris")
    assert [c.value for c in choices] == [PARIS]
    assert zone_choices("new york")[0].value == "America/New_York"
    assert len(zone_choices("")) == 25
    assert zone_choices("utc")[0].value == "UTC"


def test_the_hosts_own_zone_is_no_zone_a_server_may_pick():
    # "localtime" is a link to the machine's /etc/localtime, not an IANA zone: a server set
    # to it would learn the host's zone and follow whatever the host is changed to;
    # "Factory" is tzdata's "no zone set" placeholder (its clock reads "-00")
    for host_only in ("localtime", "Factory", "LOCALTIME"):
        with pytest.raises(UnknownZone):
            time_zone(host_only)
        assert host_only.lower() not in [c.value.lower() for c in zone_choices(host_only)]


# =========================================================================== rendering


def _post(n: int, title: str, link: str | None = "https://blog.test/p", author: str | None = None):
    return Post(n, 1, f"k{n}", title, link, author, None, None, [], [], "", "", None, None, None)


def test_a_digest_lists_posts_as_escaped_masked_links():
    posts = [
        _post(1, "Hello [world](https://evil.test) @everyone <@&123>", author="**Ada**"),
        _post(2, "No link", link=None),
        _post(3, "Bad link", link="javascript:alert(1)"),
    ]
    end = _at(2026, 12, 3, 8, zone=PARIS)
    shown = render_digest(posts, "My *Blog*", "https://blog.test/feed", end, PARIS)
    first, second, third = shown.lines
    # the title's brackets escaped (it cannot close the link early), mentions defused
    assert first == (
        "• [Hello \\[world\\](https://evil.test) @\u200beveryone \\<@&\u200b123\\>]"
        "(https://blog.test/p) — \\*\\*Ada\\*\\*"
    )
    assert second == "• No link" and third == "• Bad link"
    assert shown.title == "My \\*Blog\\*: 3 new posts"
    assert shown.footer == "Digest until Thursday 3 December 2026, 08:00 CET"
    assert shown.thread_name == "Digest 3 December 2026: My *Blog*"
    assert (shown.shown, shown.more) == (3, 0)
    # as text (Discord refused the embed): the same lines, links without previews
    assert "• [Hello \\[world\\]" in shown.plain and "](<https://blog.test/p>) — " in shown.plain


def test_many_posts_are_cut_with_and_n_more_within_discords_limits():
    posts = [_post(n, f"Post {n} " + "long words " * 30, author="Writer") for n in range(400)]
    shown = render_digest(posts, "B" * 300, "https://blog.test/feed", time.time(), "UTC")
    assert len(shown.description) <= DESCRIPTION_LIMIT
    assert shown.shown + shown.more == 400 and shown.more > 300
    assert shown.lines[-1] == f"…and {shown.more} more posts (find them with `/archive latest`)"
    embed = digest_embed(shown, time.time())
    assert len(embed) <= TOTAL_LIMIT and embed.description == shown.description
    assert len(shown.plain) <= 2000 and "more posts" in shown.plain
    # exactly at the edge: whole lines only, the count line always fits
    for count in range(1, 60):
        cut = render_digest(posts[:count], "B", "u", time.time(), "UTC")
        assert len(cut.description) <= DESCRIPTION_LIMIT
        assert cut.shown + cut.more == count


# =========================================================================== claiming


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _feed_at(store, now: float):
    """The store's digest clock set at `now`, and a feed."""
    store.clock = clock = Clock(now)
    feed = await store.add_feed(
        "https://blog.test/feed",
        title="B",
        site_url=None,
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )
    return clock, feed


async def _found(store, feed_id: int, title: str) -> int:
    entry = Entry(key=title, title=title, link=f"https://blog.test/{title}")
    [post_id] = await store.store_entries(feed_id, [entry], announce=True)
    return post_id


async def _digest_titles(store) -> list[list[str]]:
    rows = await store._all("SELECT id FROM digests ORDER BY id")
    return [[p.title for p in (await store.digest_posts(r["id"]))[0]] for r in rows]


async def test_a_period_claims_exactly_the_posts_found_before_its_end(store):
    clock, feed = await _feed_at(store, _at(2026, 12, 2, 7, 30))
    digest_sub = await store.add_subscription(feed.id, 1, 10)
    plain_sub = await store.add_subscription(feed.id, 1, 11)
    await store.set_guild_timezone(1, "UTC")
    schedule = await store.set_digest(1, digest_sub.id, "daily", 8, 0)
    assert _utc(schedule.due_at) == dt.datetime(2026, 12, 2, 8, tzinfo=UTC)

    await _found(store, feed.id, "before")
    clock.now = schedule.due_at - 0.001
    await _found(store, feed.id, "just before")
    # the other channel gets each post as before
    due = await store.due_deliveries(time.time())
    assert {d.subscription_id for d in due} == {plain_sub.id}
    assert len(due) == 2
    assert await store.claim_due_digests() == 0  # not yet due
    # found at the hour, before the claim ran: the next period's
    clock.now = schedule.due_at
    await _found(store, feed.id, "at the hour")
    clock.now = schedule.due_at + 120
    assert await store.claim_due_digests() == 1
    assert await store.claim_due_digests() == 0  # claimed once
    assert await _digest_titles(store) == [["before", "just before"]]
    [digest] = await store.due_digests(time.time())
    assert digest.period_end == schedule.due_at and digest.channel_id == 10
    [now_schedule] = (await store.guild_digests(1)).values()
    assert now_schedule.held == 1
    assert _utc(now_schedule.due_at) == dt.datetime(2026, 12, 3, 8, tzinfo=UTC)

    # down for three days: one digest for what was held, the next time after now
    clock.now = _at(2026, 12, 6, 9)
    assert await store.claim_due_digests() == 1
    assert (await _digest_titles(store))[1] == ["at the hour"]
    [later] = (await store.guild_digests(1)).values()
    assert _utc(later.due_at) == dt.datetime(2026, 12, 7, 8, tzinfo=UTC)
    # a period without posts makes no digest
    clock.now = later.due_at + 1
    assert await store.claim_due_digests() == 0


async def test_switching_off_sends_what_is_held_and_on_reannounces_nothing(store):
    clock, feed = await _feed_at(store, _at(2026, 12, 2, 7))
    sub = await store.add_subscription(feed.id, 1, 10)
    await _found(store, feed.id, "owed before")  # pending when the digest is switched on
    await store.set_digest(1, sub.id, "weekly", 8, 4)
    await _found(store, feed.id, "held")
    [pending] = await store.due_deliveries(time.time())
    assert (await store.get_post(pending.post_id)).title == "owed before"  # still one by one

    off = await store.set_digest(1, sub.id, "off", 0, 0)
    assert off.schedule == "off" and off.due_at is None and off.held == 0
    assert await _digest_titles(store) == [["held"]]  # at once, as a last digest
    [digest] = await store.due_digests(time.time())
    assert digest.period_end == clock.now
    await _found(store, feed.id, "after")  # one by one again
    titles = [
        (await store.get_post(d.post_id)).title for d in await store.due_deliveries(time.time())
    ]
    assert titles == ["owed before", "after"]
    # another server cannot change it
    assert await store.set_digest(2, sub.id, "daily", 8, 0) is None


async def test_a_huge_period_reads_only_what_its_message_can_list(store):
    # a blog that posts thousands of times a week: the digest counts every post, lists the
    # oldest that fit, and reads no post's text (a week's text can be hundreds of MB)
    clock, feed = await _feed_at(store, _at(2026, 12, 2, 7))
    sub = await store.add_subscription(feed.id, 1, 10)
    await store.set_digest(1, sub.id, "daily", 8, 0)
    body = "<p>" + "long text " * 500 + "</p>"
    found = 1500
    await store.store_entries(
        feed.id,
        [
            Entry(key=f"p{i}", title=f"post {i}", link=f"https://blog.test/{i}", content_html=body)
            for i in range(found)
        ],
        announce=True,
    )
    clock.now = _at(2026, 12, 2, 8, 1)
    assert await store.claim_due_digests() == 1
    [digest] = await store.due_digests(time.time())
    posts, total = await store.digest_posts(digest.id, MAX_LINES)
    assert total == found and len(posts) == MAX_LINES < found
    assert [p.title for p in posts[:3]] == ["post 0", "post 1", "post 2"]
    assert all(p.content_html == "" for p in posts)
    rendered = render_digest(posts, "B", "u", digest.period_end, "UTC", total)
    assert rendered.title == "B: 1500 new posts"
    assert rendered.shown + rendered.more == found
    assert rendered.lines[0].startswith("• [post 0]")
    assert rendered.lines[-1].startswith(f"…and {rendered.more} more posts")
    assert f"…and {found - rendered.plain.count('• [')} more posts" in rendered.plain
