"""`/feed list`: a field per feed, fitted to Discord's embed limits, a page at a time."""

from __future__ import annotations

import discord

from bot.digests import local_time_text, schedule_text
from bot.models import DigestSchedule, SubscriptionStatus
from bot.render.markdown import FIELD_LIMIT, cut, inline_markdown, web_url
from bot.render.style import DEFAULT_STYLE

from ..common.discussion_status import discussion_status
from ..common.embeds import discord_time
from ..common.pages import PagedView

LIST_TITLE = "Feeds followed here"
LIST_PER_PAGE = 10  # feeds on one page of /feed list
LIST_PAGE_BUDGET = 5600  # characters of fields on one page (Discord: 6,000 for the embed)
ERROR_CHARS = 200  # of an error quoted in /feed list (a feed's field holds 1,024 in all)


def link_text(url: str) -> str:
    """A feed's address in a message: a link when it is a plain web address, else text."""
    safe = web_url(url)
    if safe and len(safe) <= 200:
        return f"<{safe}>"
    return inline_markdown(url, 200)


def every(seconds: float) -> str:
    """A check interval as people say it."""
    if seconds < 60 or seconds % 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day" + ("s" if minutes > 1440 else "")
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def fit_lines(lines: list[str], limit: int = FIELD_LIMIT) -> str:
    """Whole lines while they fit in `limit` characters, then "…"."""
    kept: list[str] = []
    used = 0
    for line in lines:
        extra = len(line) + (1 if kept else 0)
        if used + extra > limit:
            if not kept:
                kept.append(cut(line, limit))
            elif used + 2 <= limit:
                kept.append("…")
            break
        kept.append(line)
        used += extra
    return "\n".join(kept)


def list_pages(fields: list[tuple[str, str]]) -> list[discord.Embed]:
    """The feeds' (name, value) fields on as many embeds as it takes, each within every
    embed limit (25 fields, 6,000 characters in all)."""
    pages: list[list[tuple[str, str]]] = [[]]
    used = 0
    for name, value in fields:
        size = len(name) + len(value)
        if pages[-1] and (len(pages[-1]) >= LIST_PER_PAGE or used + size > LIST_PAGE_BUDGET):
            pages.append([])
            used = 0
        pages[-1].append((name, value))
        used += size
    embeds = []
    for number, page in enumerate(pages, 1):
        embed = discord.Embed(title=LIST_TITLE, colour=discord.Colour.blurple())
        for name, value in page:
            embed.add_field(name=name, value=value, inline=False)
        if len(pages) > 1:
            embed.set_footer(text=f"Page {number} of {len(pages)} · {len(fields)} feeds")
        embeds.append(embed)
    return embeds


class ListView(PagedView):
    """`/feed list` a page at a time."""

    def __init__(self, owner, interaction, embeds: list[discord.Embed]) -> None:
        super().__init__(owner, interaction, len(embeds))
        self.embeds = embeds

    def page(self, number: int) -> discord.Embed:
        return self.embeds[number]


def style_note(sub) -> str:
    """The message style, when it is not the default (`/feed style`)."""
    if sub.style == DEFAULT_STYLE and not sub.template:
        return ""
    return f" · style: {sub.style}" + (" with a template" if sub.template else "")


def next_text(schedule: DigestSchedule) -> str:
    """When the next digest goes out, in the server's zone (and relative, in the reader's)."""
    if schedule.due_at is None:
        return "not planned"
    return (
        f"{local_time_text(schedule.due_at, schedule.zone)} ({discord_time(schedule.due_at, 'R')})"
    )


def digest_line(schedule: DigestSchedule) -> str:
    """`/feed list`'s line for a subscription in digest mode."""
    held = f" · {schedule.held} post(s) waiting" if schedule.held else ""
    when = schedule_text(schedule.schedule, schedule.hour, schedule.weekday)
    return f"📰 Digest {when} ({schedule.zone}), next {next_text(schedule)}{held}"


def status_lines(bot, status: SubscriptionStatus) -> list[str]:
    """What `/feed list` says of one subscription, a line per fact (each line escaped
    and short; the whole is cut to a field by fit_lines)."""
    sub = status.subscription
    interval = status.poll_interval or bot.poller.default_interval
    lines = [
        f"{link_text(sub.feed_url)} → <#{sub.channel_id}>",
        f"Checked every {every(interval)}"
        + (f" · mentions <@&{sub.mention_role_id}>" if sub.mention_role_id else "")
        + style_note(sub),
        "Last check: "
        + (discord_time(status.last_checked_at, "R") if status.last_checked_at else "not yet")
        + " · last new post: "
        + (discord_time(status.last_new_post_at, "R") if status.last_new_post_at else "none yet"),
    ]
    if status.digest is not None:
        lines.append(digest_line(status.digest))
        if status.digest.error:
            lines.append(
                "⚠️ A digest is not sent yet, retrying: "
                + inline_markdown(status.digest.error, ERROR_CHARS)
            )
    if bot.websub is not None and bot.websub.is_live(sub.feed_id):
        safety_net = bot.poller.interval(sub.feed_id, interval)
        lines.append(
            "⚡ push: posts come at once from the blog's hub"
            f" (also checked every {every(safety_net)})"
        )
    if status.feed_error:
        lines.append(f"⚠️ Feed error: {inline_markdown(status.feed_error, ERROR_CHARS)}")
    if status.archived_silently:
        lines.append(f"{status.archived_silently} new posts archived silently (too many at once)")
    lines += discussion_status(bot, sub, status.discussion_error)
    if status.blog_account is not None:
        name = inline_markdown(status.blog_account, 100)
        lines.append(f"Replies to the blog: connected as **{name}**")
    if status.failing_deliveries:
        lines.append(
            f"⚠️ {status.failing_deliveries} post(s) not delivered yet, retrying: "
            f"{inline_markdown(status.delivery_error, ERROR_CHARS)}"
        )
    if status.skipped:
        lines.append(
            f"⚠️ {status.skipped} post(s) or comment(s) skipped, refused by Discord even "
            f"as plain text: {inline_markdown(status.skip_reason, ERROR_CHARS)}"
        )
    return lines
