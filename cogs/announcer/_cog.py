"""The announcer cog: poll due feeds, then empty the outbox into Discord."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

import discord
from discord.ext import commands, tasks

from bot.app import Gazette
from bot.limits import MAX_REFUSALS
from bot.models import Delivery, FeedEvent, PollReport
from bot.render.markdown import inline_markdown, thread_name
from bot.retry import retry_at
from bot.scheduling import create_task

from ..common.loops import paced_round
from ..common.sending import ItemRefused
from ._delivery import Deliverer
from ._edits import Editor
from ._errors import DeliveryFailed
from ._followups import FollowupLane

log = logging.getLogger(__name__)

#: Deliveries fetched per round (those of busy channels are left for their worker)
DELIVERY_BATCH = 500


class Announcer(commands.Cog):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self.timing = bot.timing
        self._outbox_dirty = asyncio.Event()
        self._index_dirty = asyncio.Event()  # posts were stored: make them searchable
        self.deliverer = Deliverer(bot)
        self._workers: dict[int, asyncio.Task] = {}  # channel id → its delivery worker
        # channel id → its follow-ups (publishing, the thread) under way; they outlive a
        # worker so that the channel's next batch goes out while its last thread opens
        self._lanes: dict[int, FollowupLane] = {}
        self.editor = Editor(bot)  # announcements follow their post

    async def cog_load(self) -> None:
        # the index loop makes stored posts searchable as they come; a member's search
        # never indexes (it would queue behind the poll cycle's writes)
        self.store.searches_index = False
        await self.store.index_pending()  # what a previous run left unindexed
        if self.bot.websub is not None:  # a pushed post goes out as a polled one, at once
            self.bot.websub.on_recorded = self._checked
        self.bot.poller.on_owed = self._outbox_dirty.set  # sent as soon as it is stored
        self.poll_loop.start()
        self.delivery_loop.start()
        self.index_loop.start()
        self.edit_loop.start()

    async def cog_unload(self) -> None:
        self.store.searches_index = True
        self.bot.poller.on_owed = lambda: None
        self.poll_loop.cancel()
        self.delivery_loop.cancel()
        self.index_loop.cancel()
        self.edit_loop.cancel()
        self.editor.cancel()
        for worker in list(self._workers.values()):
            worker.cancel()
        for lane in self._lanes.values():
            lane.cancel()  # still owed in the store: finished after the restart
        self.bot.poller.cancel_checks()

    # --- polling --------------------------------------------------------------------

    @tasks.loop(seconds=0)  # paced by paced_round: every poll tick
    async def poll_loop(self) -> None:
        await paced_round(self.poll_due, None, self.timing.poll_tick, "poll cycle")

    async def poll_due(self) -> None:
        # starts the due feeds and returns: each check is handled by `_checked` when it is
        # recorded, so a slow feed holds up nobody (it is not due while in flight)
        await self.bot.poller.start_due(on_recorded=self._checked)

    @tasks.loop(seconds=0)  # woken when a check stored posts; each tick for imports, backfills
    async def index_loop(self) -> None:
        await paced_round(
            self.store.index_pending, self._index_dirty, self.timing.poll_tick, "indexing"
        )

    async def _checked(self, report: PollReport) -> None:
        """One feed's check was recorded: index its new posts, tell of its state (they are
        delivered from the moment they are stored: FeedPoller.on_owed)."""
        if report.new_posts:
            self._index_dirty.set()
        if report.edits_owed:
            self.editor.wake.set()
        for event in report.events:
            await self.tell_followers(event)

    @poll_loop.before_loop
    async def _before_poll(self) -> None:
        await self.bot.wait_until_ready()

    async def tell_followers(self, event: FeedEvent) -> None:
        """One notice per channel when a feed starts failing, one when it recovers."""
        # the title and the error come from the blog: escaped, on one line, cut
        title = inline_markdown(event.feed.title or event.feed.url, 200)
        if event.kind == "failing":
            text = (
                f"⚠️ **{title}** could not be read several times in a row "
                f"({inline_markdown(event.error, 1000)}). "
                "Gazette keeps trying, less often, and will say here when it works again."
            )
        else:
            text = f"✅ **{title}** can be read again; new posts will be announced as usual."
        for sub in await self.store.feed_subscriptions(event.feed.id):
            channel = self.bot.get_channel(sub.channel_id)
            if channel is None:
                continue
            try:
                if isinstance(channel, discord.ForumChannel):
                    # a forum takes no plain messages: the notice is a post of its own
                    name = "Feed problem" if event.kind == "failing" else "Feed working again"
                    await channel.create_thread(
                        name=thread_name(f"{name}: {event.feed.title or event.feed.url}"),
                        content=text,
                    )
                else:
                    await channel.send(text)
            except discord.HTTPException as exc:
                log.warning(
                    "could not tell #%s about feed %s: %s", sub.channel_id, event.feed.id, exc
                )

    # --- delivering -----------------------------------------------------------------

    @tasks.loop(seconds=0)  # paced by the wait below: woken at once when posts are owed
    async def delivery_loop(self) -> None:
        await paced_round(
            self.deliver_due, self._outbox_dirty, self.timing.delivery_tick, "delivery round"
        )

    @delivery_loop.before_loop
    async def _before_delivery(self) -> None:
        await self.bot.wait_until_ready()

    async def deliver_due(self) -> int:
        """Start sending what is owed: one worker per channel, side by side, so one slow or
        failing channel holds up none and a round never waits for the slowest channel.

        A channel's deliveries go through its one worker at a time, in order; a round
        leaves alone the channels whose worker is still busy (what it fetched for them is
        theirs), and a worker that finishes wakes the next round for what came meanwhile.
        Returns how many deliveries were started."""
        busy = set(self._workers)
        for channel_id in [c for c, lane in self._lanes.items() if not lane.busy]:
            if channel_id not in busy:
                del self._lanes[channel_id]
        # follow-ups under way are not a crash's leftovers
        await self.deliverer.finish_followups(skip_channels=busy | set(self._lanes))
        due = await self.store.due_deliveries(time.time(), limit=DELIVERY_BATCH, skip_channels=busy)
        # the intent, before any request: a delivery begun earlier may already be on Discord
        await self.store.begin_deliveries([d.id for d in due if d.started_at is None])
        by_channel: dict[int, list[Delivery]] = defaultdict(list)
        for delivery in due:
            by_channel[delivery.channel_id].append(delivery)
        for channel_id, items in by_channel.items():
            self._workers[channel_id] = create_task(
                self._channel_worker(channel_id, items), name=f"deliver to #{channel_id}"
            )
        return len(due)

    async def _channel_worker(self, channel_id: int, deliveries: list[Delivery]) -> None:
        # each announcement's thread opens while the next one is sent (the channel's lane)
        lane = self._lanes.get(channel_id)
        if lane is None:
            lane = self._lanes[channel_id] = FollowupLane(channel_id)
        try:
            await self._deliver_channel(deliveries, lane)
        finally:
            del self._workers[channel_id]
            self._outbox_dirty.set()  # what came for this channel meanwhile goes out now

    async def wait_for_workers(self) -> None:
        """Until every channel's worker and follow-ups are done (shutting down, tests)."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)
        for lane in list(self._lanes.values()):
            await lane.drain()

    async def _deliver_channel(self, deliveries: list[Delivery], lane: FollowupLane) -> int:
        sent = 0
        for index, delivery in enumerate(deliveries):
            try:
                await self.deliverer.deliver(delivery, lane)
                sent += 1
            except ItemRefused as exc:
                # the post's own fault: it alone waits (then is skipped), the rest goes on
                await self._refused(delivery, str(exc))
            except DeliveryFailed as exc:
                # the channel's or Discord's fault: keep the channel's order, what follows
                # waits for the same retry (not tried, so surely not sent this time)
                await self._postpone(delivery, str(exc), settled=exc.settled)
                for waiting in deliveries[index + 1 :]:
                    await self._postpone(waiting, str(exc), settled=waiting.started_at is None)
                break
            except Exception as exc:
                log.exception("delivering post %s failed unexpectedly", delivery.post_id)
                await self._postpone(delivery, f"unexpected error: {type(exc).__name__}")
        return sent

    def _retry_at(self, delivery: Delivery) -> float:
        timing = self.timing
        return retry_at(timing.delivery_backoff, delivery.attempts, timing.delivery_backoff_cap)

    async def _postpone(self, delivery: Delivery, error: str, *, settled: bool = False) -> None:
        log.info("post %s to #%s postponed: %s", delivery.post_id, delivery.channel_id, error)
        await self.store.mark_delivery_failed(
            delivery.id, error, next_attempt_at=self._retry_at(delivery), settled=settled
        )

    async def _refused(self, delivery: Delivery, error: str) -> None:
        skipped = await self.store.refuse_delivery(
            delivery.id, error, next_attempt_at=self._retry_at(delivery), give_up_after=MAX_REFUSALS
        )
        if skipped:
            log.warning(
                "post %s skipped in #%s after %d refusals: %s",
                delivery.post_id,
                delivery.channel_id,
                MAX_REFUSALS,
                error,
            )
        else:
            log.info("post %s refused in #%s: %s", delivery.post_id, delivery.channel_id, error)

    # --- editing (announcements follow their post) ------------------------------------

    @tasks.loop(seconds=0)  # woken when a check owed edits; each delivery tick for the rest
    async def edit_loop(self) -> None:
        await paced_round(
            self.editor.edit_due, self.editor.wake, self.timing.delivery_tick, "edit round"
        )

    @edit_loop.before_loop
    async def _before_edit(self) -> None:
        await self.bot.wait_until_ready()
