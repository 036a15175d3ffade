"""When digests go out: a daily or weekly hour in the server's time zone (no Discord here).

Daylight saving time, on the day the clocks change:
- an hour that does not exist (clocks jump from 02:00 to 03:00 and the digest is at 2): the
  digest goes out when the clocks jump, at 03:00 new time (the same instant as 02:00 old time);
- an hour that happens twice (clocks go back from 03:00 to 02:00 and the digest is at 2): it
  goes out once, at the first 02:00; the second 02:00 sends nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import zoneinfo

log = logging.getLogger(__name__)

SCHEDULES = ("off", "daily", "weekly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_ZONE = "UTC"


class UnknownZone(ValueError):
    """Not a time zone of the IANA database (as zoneinfo knows it)."""


#: Names in the zone database that are no place's time: "localtime" links to the host's
#: /etc/localtime (a server would learn and follow the machine's zone), "Factory" is
#: tzdata's "not set" placeholder
_NOT_ZONES = frozenset({"localtime", "factory"})


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every time zone name zoneinfo knows, sorted (the system's database, else tzdata)."""
    zones = zoneinfo.available_timezones()
    return tuple(sorted(z for z in zones if z.lower() not in _NOT_ZONES))


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone called `name` (as listed by `zone_names`, case aside); UnknownZone if none."""
    wanted = name.strip()
    exact = next((z for z in zone_names() if z.lower() == wanted.lower()), None)
    if exact is None:
        raise UnknownZone(name)
    return zoneinfo.ZoneInfo(exact)


def _stored_zone(name: str) -> zoneinfo.ZoneInfo:
    """A zone saved earlier (checked then); UTC if this machine's database lacks it now."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r is unknown here: digests follow UTC", name)
        return zoneinfo.ZoneInfo(DEFAULT_ZONE)


def next_due(schedule: str, hour: int, weekday: int, zone: str, after: float) -> float | None:
    """The first digest time strictly after `after` (unix seconds), or None when off.

    Each local day has one candidate, `hour`:00 with fold=0: in a gap that is the instant the
    clocks jump (see the module's note), of a repeated hour its first occurrence."""
    if schedule == "off":
        return None
    tz = _stored_zone(zone)
    day = dt.datetime.fromtimestamp(after, tz).date() - dt.timedelta(days=1)
    for _ in range(9):  # a week and the days on either side
        day += dt.timedelta(days=1)
        if schedule == "weekly" and day.weekday() != weekday:
            continue
        at = dt.datetime(day.year, day.month, day.day, hour, tzinfo=tz).timestamp()
        if at > after:
            return at
    raise AssertionError("no digest time within nine days")  # pragma: no cover


def schedule_text(schedule: str, hour: int, weekday: int) -> str:
    """ "daily at 08:00", "weekly on Monday at 08:00", "off"."""
    if schedule == "daily":
        return f"daily at {hour:02d}:00"
    if schedule == "weekly":
        return f"weekly on {WEEKDAYS[weekday]} at {hour:02d}:00"
    return "off"


def local_time_text(at: float, zone: str) -> str:
    """A moment as the server's clock says it: "Monday 7 December 2026, 08:00 CET"."""
    when = dt.datetime.fromtimestamp(at, _stored_zone(zone))
    return f"{when:%A} {when.day} {when:%B %Y, %H:%M} {when.tzname()}"


def local_date_text(at: float, zone: str) -> str:
    """The day of a moment in the server's zone: "7 December 2026"."""
    when = dt.datetime.fromtimestamp(at, _stored_zone(zone))
    return f"{when.day} {when:%B %Y}"
