"""`/feed`: what a server follows, and where it is announced. Manage Server only."""

from __future__ import annotations

import logging
import time

import aiosqlite
import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Gazette
from bot.errors import UserError
from bot.limits import FORCED_CHECK_GAP
from bot.models import Subscription
from bot.poller import SubscribeError
from bot.render.markdown import cut_plain, inline_markdown
from bot.render.style import STYLE_NAMES, STYLES, TEMPLATE_LIMIT
from bot.store.feeds import AlreadySubscribed
from bot.tree import permission_names

from ..common.autocomplete import choice_name, suggestions
from ..common.channels import missing_permissions
from ._backfill import Backfills
from ._connect import connect_text, disconnect_text
from ._digests import (
    SCHEDULE_CHOICES,
    WEEKDAY_CHOICES,
    digest_text,
    timezone_text,
    zone_choices,
)
from ._filters import FILTER_OPTIONS, list_line, set_filters, verdict_text
from ._import import Imports, postable_channels
from ._listing import ListView, every, fit_lines, link_text, list_pages, status_lines
from ._style import StyleView, chosen_template, preview, style_summary
from ._topics import ask_topics, drop_topics, link_topic, role_deleted, topic_choices

log = logging.getLogger(__name__)

ANNOUNCE_CHANNELS = [
    discord.ChannelType.text,
    discord.ChannelType.news,
    discord.ChannelType.forum,
]
ARCHIVE_CHOICES = [
    app_commands.Choice(name="1 hour", value=60),
    app_commands.Choice(name="1 day", value=1440),
    app_commands.Choice(name="3 days", value=4320),
    app_commands.Choice(name="1 week", value=10080),
]
# a forum post is a thread, yet needs the same
NEEDED_TO_ANNOUNCE = ("view_channel", "send_messages", "embed_links")
NO_PINGS = discord.AllowedMentions.none()
# one list of /feed filter: 20 entries of up to 100 characters, with their commas
FILTER_OPTION_CHARS = 2100
STYLE_CHOICES = [app_commands.Choice(name=STYLE_NAMES[style], value=style) for style in STYLES]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Feeds(commands.GroupCog, group_name="feed", group_description="Follow blogs in this server"):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self.backfills = Backfills(bot)
        self.imports = Imports(bot, busy=self.backfills.running)
        super().__init__()

    async def cog_load(self) -> None:
        # feeds follow the POLL_INTERVAL of this run where their subscriptions ask for none
        try:
            await self.store.refresh_poll_interval(self.bot.poller.default_interval)
        except aiosqlite.Error as exc:
            log.warning("could not bring the feeds' check intervals up to date: %s", exc)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # default_permissions only hides the command; a server can override it, so check too
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    async def subscription_from(self, interaction: discord.Interaction, value: str) -> Subscription:
        """The subscription picked in autocomplete (or typed as a URL), in this server only."""
        subs = await self.store.guild_subscriptions(interaction.guild_id)
        for sub in subs:
            if value in (str(sub.id), sub.feed_url):
                return sub
        raise UserError("No such feed in this server: pick one from the list (see `/feed list`).")

    async def feed_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        current = current.lower()
        choices = []
        for sub in await suggestions(self.store.guild_subscriptions(interaction.guild_id)):
            channel = self.bot.get_channel(sub.channel_id)
            where = f" → #{channel.name if channel else sub.channel_id}"
            label = choice_name(sub.feed_title or sub.feed_url, "?")
            if current in label.lower() or current in sub.feed_url.lower():
                name = cut_plain(label, 100 - len(where)) + where
                choices.append(app_commands.Choice(name=name[:100], value=str(sub.id)))
        return choices[:25]

    @app_commands.command(name="add", description="Follow a blog or feed and announce new posts")
    @app_commands.describe(
        url="The blog's address or its feed's",
        channel="Where new posts are announced",
        mention="A role to mention with each new post",
        threads="Open a discussion thread for each post (default: yes)",
        auto_archive="When an idle discussion thread is archived (default: 1 week)",
        interval="Minutes between two checks of this feed (default: the bot's POLL_INTERVAL)",
    )
    @app_commands.choices(auto_archive=ARCHIVE_CHOICES)
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        channel: app_commands.AppCommandChannel,
        mention: discord.Role | None = None,
        threads: bool = True,
        auto_archive: app_commands.Choice[int] | None = None,
        interval: app_commands.Range[int, 5, 1440] | None = None,
    ) -> None:
        if channel.type not in ANNOUNCE_CHANNELS:
            raise UserError("Pick a text, announcement or forum channel.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        target = interaction.guild.get_channel(channel.id)
        missing = (
            missing_permissions(target, interaction.guild.me, NEEDED_TO_ANNOUNCE) if target else []
        )
        if missing:
            raise UserError(
                f"I cannot post in {channel.mention}: I am missing {permission_names(missing)}."
            )
        url = url.strip()  # discovery adds https:// to a bare address
        try:
            result = await self.bot.poller.subscribe(
                url,
                guild_id=interaction.guild_id,
                channel_id=channel.id,
                mention_role_id=mention.id if mention else None,
                threads=threads,
                auto_archive_minutes=auto_archive.value if auto_archive else 10080,
                interval_minutes=interval,
            )
        except AlreadySubscribed:
            raise UserError(f"That feed is already announced in {channel.mention}.") from None
        except SubscribeError as exc:
            # the reason may quote the address (shortened: they typed it) or what the site
            # sent: escaped, cut
            reason = str(exc).replace(url, cut_plain(url, 120))
            raise UserError(inline_markdown(reason, 1500)) from None
        role = f", mentioning {mention.mention}" if mention else ""
        checked = every(result.subscription.poll_interval or self.bot.poller.default_interval)
        summary = (
            f"Following **{inline_markdown(result.feed_title, 200) or 'a feed'}**\n"
            f"Feed: {link_text(result.feed_url)}\n"
            f"New posts will be announced in {channel.mention}{role}, checked every {checked}. "
            f"{result.stored} existing posts were stored in the archive without announcing them."
        )
        await interaction.followup.send(summary, ephemeral=True)
        feed = await self.store.get_feed(result.subscription.feed_id)
        if not self.imports.importing(feed.id):
            self.backfills.start(interaction, feed, summary + "\n", result.page)

    @app_commands.command(
        name="backfill", description="Import a feed's whole history into the archive"
    )
    @app_commands.describe(feed="The feed whose older posts to import (nothing is announced)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def backfill_(self, interaction: discord.Interaction, feed: str) -> None:
        sub = await self.subscription_from(interaction, feed)
        if self.backfills.running(sub.feed_id) or self.imports.importing(sub.feed_id):
            raise UserError("That feed's history is already being imported.")
        await interaction.response.send_message(
            f"Importing the history of {link_text(sub.feed_url)}…", ephemeral=True
        )
        self.backfills.start(interaction, await self.store.get_feed(sub.feed_id), "")

    async def cog_unload(self) -> None:
        self.backfills.cancel_all()
        self.imports.cancel_all()

    @app_commands.command(name="import", description="Follow every feed of an OPML file")
    @app_commands.describe(
        file="An OPML subscription list, as feed readers export it",
        channel="Where new posts are announced (with by_category: for feeds no channel fits)",
        by_category="Announce each feed in the channel named like its category in the file",
    )
    async def import_(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        channel: app_commands.AppCommandChannel,
        by_category: bool = False,
    ) -> None:
        if channel.type not in ANNOUNCE_CHANNELS:
            raise UserError("Pick a text, announcement or forum channel.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        postable = postable_channels(interaction.guild, ANNOUNCE_CHANNELS, NEEDED_TO_ANNOUNCE)
        if channel.id not in {c.id for c in postable}:
            raise UserError(f"I cannot post in {channel.mention}: check my permissions there.")
        await self.imports.run(interaction, file, channel, by_category, postable)

    @app_commands.command(name="list", description="The feeds this server follows")
    async def list_(self, interaction: discord.Interaction) -> None:
        # answered at once: the database may be busy (an import holds the write lock)
        await interaction.response.defer(ephemeral=True, thinking=True)
        statuses = await self.store.guild_status(interaction.guild_id)
        if not statuses:
            await interaction.followup.send(
                "This server follows no feeds yet: add one with `/feed add`.", ephemeral=True
            )
            return
        filters = await self.store.guild_filters(interaction.guild_id)
        fields = []
        for status in statuses:
            sub = status.subscription
            name = inline_markdown(sub.feed_title or sub.feed_url, 256) or "(untitled)"
            lines = status_lines(self.bot, status)
            if line := list_line(filters.get(sub.id)):
                lines.insert(2, line)  # after where and how often: what is announced
            fields.append((name, fit_lines(lines)))
        embeds = list_pages(fields)
        view = ListView(interaction.user, interaction, embeds) if len(embeds) > 1 else None
        await interaction.followup.send(
            embed=view.render() if view else embeds[0],
            view=view or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="remove", description="Stop following a feed in this server")
    @app_commands.describe(feed="The feed to stop following")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def remove(self, interaction: discord.Interaction, feed: str) -> None:
        # answered at once: the database may be busy (an import holds the write lock)
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await self.subscription_from(interaction, feed)
        await drop_topics(self.bot, interaction.guild, sub)
        await self.store.remove_subscription(interaction.guild_id, sub.id)
        # the feed may now be checked less often (or, followed by nobody, not at all)
        await self.store.refresh_poll_interval(self.bot.poller.default_interval, sub.feed_id)
        await interaction.followup.send(
            f"Stopped announcing {link_text(sub.feed_url)} in <#{sub.channel_id}>. "
            "Its posts stay searchable in the archive.",
            ephemeral=True,
        )

    @app_commands.command(name="test", description="Show how the newest post would be announced")
    @app_commands.describe(feed="The feed to preview")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def test(self, interaction: discord.Interaction, feed: str) -> None:
        sub = await self.subscription_from(interaction, feed)
        post = await self.store.latest_post(sub.feed_id)
        if post is None:
            raise UserError("That feed has no posts yet.")
        note = f"Preview of the newest post, as it would appear in <#{sub.channel_id}>"
        if sub.mention_role_id:
            note += f", mentioning <@&{sub.mention_role_id}>"
        note += ":"
        verdict = await self.store.explain_filters(sub.id, post)
        if verdict is not None:
            note += "\n" + verdict_text(verdict)
        content, embed = await preview(self.bot, sub, sub.style, sub.template, note)
        await interaction.response.send_message(
            content,
            embed=embed or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="edit", description="Change how a feed is announced")
    @app_commands.describe(
        feed="The feed to change",
        mention="A role to mention with each new post",
        no_mention="Stop mentioning a role",
        threads="Open a discussion thread for each post",
        auto_archive="When an idle discussion thread is archived",
        interval="Minutes between two checks of this feed for this channel",
    )
    @app_commands.autocomplete(feed=feed_autocomplete)
    @app_commands.choices(auto_archive=ARCHIVE_CHOICES)
    async def edit(
        self,
        interaction: discord.Interaction,
        feed: str,
        mention: discord.Role | None = None,
        no_mention: bool = False,
        threads: bool | None = None,
        auto_archive: app_commands.Choice[int] | None = None,
        interval: app_commands.Range[int, 5, 1440] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await self.subscription_from(interaction, feed)
        sub = await self.store.update_subscription(
            interaction.guild_id,
            sub.id,
            threads=threads,
            auto_archive_minutes=auto_archive.value if auto_archive else None,
            mention_role_id=mention.id if mention else None,
            clear_mention=no_mention,
            poll_interval=interval * 60 if interval else None,
        )
        default = self.bot.poller.default_interval
        if interval:
            await self.store.refresh_poll_interval(default, sub.feed_id)
        # a fix on the admin's side (the feed, permissions, a role) deserves a prompt retry;
        # the feed is shared, so "check now" is rate-limited whoever asks
        checked = await self.store.force_check(sub.feed_id, time.time(), FORCED_CHECK_GAP)
        await self.store.retry_subscription_now(sub.id)
        mention_text = f"<@&{sub.mention_role_id}>" if sub.mention_role_id else "nobody"
        if checked:
            check_text = "The feed is checked now and undelivered posts are retried."
        else:
            check_text = (
                "Undelivered posts are retried now. The feed is not checked at once: it was "
                f"checked on request less than {every(FORCED_CHECK_GAP)} ago; it is checked "
                "again at its next turn."
            )
        await interaction.followup.send(
            f"Updated {link_text(sub.feed_url)} in <#{sub.channel_id}>: mentions "
            f"{mention_text}, threads {'on' if sub.threads else 'off'}, archived after "
            f"{sub.auto_archive_minutes // 60} h idle, checked every "
            f"{every(sub.poll_interval or default)}.\n{check_text}",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(
        name="connect", description="Let members post replies to the blog (WordPress only)"
    )
    @app_commands.describe(
        feed="The blog's feed",
        username="The WordPress login of the account replies are posted with",
        password="An application password of that account (Users → Profile)",
    )
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def connect(
        self,
        interaction: discord.Interaction,
        feed: str,
        username: app_commands.Range[str, 1, 200],
        password: app_commands.Range[str, 1, 200],
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await self.subscription_from(interaction, feed)
        text = await connect_text(self.bot, interaction, sub, username, password)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @app_commands.command(name="disconnect", description="Stop replies to the blog")
    @app_commands.describe(feed="The blog's feed")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def disconnect(self, interaction: discord.Interaction, feed: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await self.subscription_from(interaction, feed)
        text = await disconnect_text(self.bot, interaction, sub)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @app_commands.command(
        name="filter", description="Choose which new posts of a feed are announced here"
    )
    @app_commands.describe(**FILTER_OPTIONS)
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def filter_(
        self,
        interaction: discord.Interaction,
        feed: str,
        categories: app_commands.Range[str, 1, FILTER_OPTION_CHARS] | None = None,
        skip_categories: app_commands.Range[str, 1, FILTER_OPTION_CHARS] | None = None,
        authors: app_commands.Range[str, 1, FILTER_OPTION_CHARS] | None = None,
        skip_authors: app_commands.Range[str, 1, FILTER_OPTION_CHARS] | None = None,
        words: app_commands.Range[str, 1, FILTER_OPTION_CHARS] | None = None,
        skip_words: app_commands.Range[str, 1, FILTER_OPTION_CHARS] | None = None,
        clear: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await self.subscription_from(interaction, feed)
        given = {
            "categories": categories,
            "skip_categories": skip_categories,
            "authors": authors,
            "skip_authors": skip_authors,
            "words": words,
            "skip_words": skip_words,
        }
        text = await set_filters(self.store, interaction.guild_id, sub, given, clear)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @app_commands.command(
        name="roles", description="Let members pick topic roles to be mentioned for a feed's posts"
    )
    @app_commands.describe(
        feed="The feed whose categories and tags members may follow",
        topic="With role: the category or tag to link an existing role to",
        role="With topic: an existing role (below mine) to use for that topic",
    )
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def roles(
        self,
        interaction: discord.Interaction,
        feed: str,
        topic: app_commands.Range[str, 1, 100] | None = None,
        role: discord.Role | None = None,
    ) -> None:
        # answered at once: the archive is read to rank the topics
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await self.subscription_from(interaction, feed)
        if (topic is None) != (role is None):
            raise UserError(
                "To link an existing role, give both `topic` and `role`; without them I offer "
                "the feed's topics to pick from."
            )
        if topic is None:
            await ask_topics(self.bot, interaction, sub)
            return
        text = await link_topic(self.bot, interaction, sub, topic, role)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @roles.autocomplete("topic")
    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        subs = await self.store.guild_subscriptions(interaction.guild_id)
        picked = str(interaction.namespace.feed or "")
        sub = next((s for s in subs if picked in (str(s.id), s.feed_url)), None)
        topics = await topic_choices(self.bot, sub, current)
        return [app_commands.Choice(name=cut_plain(t, 100), value=t[:100]) for t in topics]

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        await role_deleted(self.bot, role)

    @app_commands.command(name="style", description="Choose how a feed's announcements look")
    @app_commands.describe(
        feed="The feed to change",
        style="A full embed (as now), a compact embed, or a plain link Discord previews",
        template=(
            "Message text, e.g. New: {title} {roles} (also {link} {author} {categories} {excerpt})"
        ),
        no_template="Remove the message text (the role mention alone, as before)",
    )
    @app_commands.autocomplete(feed=feed_autocomplete)
    @app_commands.choices(style=STYLE_CHOICES)
    async def style(
        self,
        interaction: discord.Interaction,
        feed: str,
        style: app_commands.Choice[str],
        template: app_commands.Range[str, 1, TEMPLATE_LIMIT] | None = None,
        no_template: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await self.subscription_from(interaction, feed)
        chosen = chosen_template(sub, template, no_template)
        note = (
            f"Preview: {style_summary(style.value, chosen)} in <#{sub.channel_id}>. "
            "**Save** to use it for new announcements."
        )
        content, embed = await preview(self.bot, sub, style.value, chosen, note)
        view = StyleView(self.bot, interaction, sub, style.value, chosen)
        await interaction.edit_original_response(
            content=content, embed=embed, view=view, allowed_mentions=NO_PINGS
        )

    @app_commands.command(
        name="digest", description="Announce a feed as one daily or weekly digest of its posts"
    )
    @app_commands.describe(
        feed="The feed to announce as a digest",
        schedule="Daily, weekly, or off to announce each post again (what is waiting goes out)",
        hour="The hour the digest goes out, 0 to 23, in the server's time zone",
        weekday="The day a weekly digest goes out",
    )
    @app_commands.autocomplete(feed=feed_autocomplete)
    @app_commands.choices(schedule=SCHEDULE_CHOICES, weekday=WEEKDAY_CHOICES)
    async def digest(
        self,
        interaction: discord.Interaction,
        feed: str,
        schedule: app_commands.Choice[str],
        hour: app_commands.Range[int, 0, 23] | None = None,
        weekday: app_commands.Choice[int] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await self.subscription_from(interaction, feed)
        text = await digest_text(
            self.bot,
            interaction.guild_id,
            sub,
            schedule.value,
            hour,
            weekday.value if weekday else None,
        )
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    async def zone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return zone_choices(current)

    @app_commands.command(name="timezone", description="Set this server's time zone (digests)")
    @app_commands.describe(zone="A time zone such as Europe/Paris or America/New_York")
    @app_commands.autocomplete(zone=zone_autocomplete)
    async def timezone(
        self, interaction: discord.Interaction, zone: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await timezone_text(self.bot, interaction.guild_id, zone)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
