"""`/feed digest` and `/feed timezone`: a subscription announced once a day or a week."""

from __future__ import annotations

from discord import app_commands

from bot.app import Gazette
from bot.digests import (
    WEEKDAYS,
    UnknownZone,
    local_time_text,
    schedule_text,
    time_zone,
    zone_names,
)
from bot.errors import UserError
from bot.models import Subscription

from ._listing import link_text, next_text

SCHEDULE_CHOICES = [
    app_commands.Choice(name="off: announce each post (default)", value="off"),
    app_commands.Choice(name="daily", value="daily"),
    app_commands.Choice(name="weekly", value="weekly"),
]
WEEKDAY_CHOICES = [app_commands.Choice(name=name, value=n) for n, name in enumerate(WEEKDAYS)]
SHOWN_DIGESTS = 10  # digests named in /feed timezone's answer


async def digest_text(
    bot: Gazette,
    guild_id: int,
    sub: Subscription,
    schedule: str,
    hour: int | None,
    weekday: int | None,
) -> str:
    """Set the subscription's digest schedule; the answer."""
    if schedule != "off" and hour is None:
        raise UserError("Pick the `hour` the digest goes out (0 to 23, in the server's time zone).")
    if schedule == "weekly" and weekday is None:
        raise UserError("Pick the `weekday` a weekly digest goes out.")
    before = await bot.store.guild_digests(guild_id)
    held = before[sub.id].held if sub.id in before else 0
    result = await bot.store.set_digest(guild_id, sub.id, schedule, hour or 0, weekday or 0)
    if result is None:
        raise UserError("No such feed in this server: pick one from the list (see `/feed list`).")
    where = f"{link_text(sub.feed_url)} in <#{sub.channel_id}>"
    if schedule == "off":
        last = (
            f" The {held} post(s) waiting for the digest go out now, as a last digest."
            if held
            else ""
        )
        return f"Digest off for {where}: new posts are announced one by one again.{last}"
    when = schedule_text(schedule, result.hour, result.weekday)
    return (
        f"Digest for {where}: {when} ({result.zone}, the server's time zone: "
        f"`/feed timezone` changes it). The next one goes out {next_text(result)}. "
        "Posts found from now on wait for it; a period without new posts sends nothing."
    )


async def timezone_text(bot: Gazette, guild_id: int, zone: str) -> str:
    """Set the server's time zone; the answer."""
    try:
        name = time_zone(zone).key
    except UnknownZone:
        raise UserError(
            "Unknown time zone: pick one from the list (a name such as `Europe/Paris`, "
            "`America/New_York` or `UTC`)."
        ) from None
    schedules = await bot.store.set_guild_timezone(guild_id, name)
    now = local_time_text(bot.store.clock(), name)
    text = f"This server's time zone is now **{name}** (it is {now} there)."
    if not schedules:
        return text + " No feed is announced as a digest yet (`/feed digest`)."
    subs = {sub.id: sub for sub in await bot.store.guild_subscriptions(guild_id)}
    lines = [
        f"• {link_text(subs[sid].feed_url)} in <#{subs[sid].channel_id}>: "
        f"{schedule_text(s.schedule, s.hour, s.weekday)}, next {next_text(s)}"
        for sid, s in list(schedules.items())[:SHOWN_DIGESTS]
        if sid in subs
    ]
    if len(schedules) > SHOWN_DIGESTS:
        lines.append(f"…and {len(schedules) - SHOWN_DIGESTS} more (see `/feed list`)")
    return "\n".join([text, "Digests:", *lines])


def zone_choices(current: str) -> list[app_commands.Choice[str]]:
    """Time zones containing what was typed (case aside), at most Discord's 25."""
    wanted = current.strip().lower().replace(" ", "_")
    found = [name for name in zone_names() if wanted in name.lower()]
    # the closest first: the name itself, then those starting with it
    found.sort(key=lambda name: (name.lower() != wanted, not name.lower().startswith(wanted)))
    return [app_commands.Choice(name=name, value=name) for name in found[:25]]
