"""`/archive`: search and read the history of the blogs this server follows."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Gazette
from bot.errors import UserError
from bot.models import Post
from bot.render.announcement import render_announcement
from bot.render.markdown import html_to_markdown, inline_markdown, split_markdown, web_url
from bot.search import QueryError, SearchPage, parse_date

from ..common.autocomplete import article_choices, choice_name, suggestions, typed_post_id
from ..common.visibility import can_view, viewable_channels
from ._views import ArticleView, ResultsView, hit_embed, post_summary

log = logging.getLogger(__name__)
T = TypeVar("T")

PER_PAGE = 5
# A search answers at once, one request to Discord, unless it is slow: then "thinking…"
# (a defer) first and the answer as its follow-up. Deferring every search cost 1.3-2 ms of
# the bot's CPU a search (bench_e2e's setup, 10,000 posts; a search then takes 5-6 ms in
# all); 1 s leaves 2 s of Discord's 3 for the defer itself.
DEFER_AFTER = 1.0


def _date(text: str | None, name: str) -> float | None:
    if not text:
        return None
    try:
        return parse_date(text)
    except QueryError as exc:
        raise UserError(f"`{name}`: {exc}") from None


async def in_time(interaction: discord.Interaction, work: Awaitable[T]) -> T:
    """`work`'s result; if it takes longer than DEFER_AFTER, the (ephemeral) answer is
    deferred meanwhile, as Discord drops an interaction not answered within 3 s."""
    # counted from when Discord made the interaction: a busy loop may start us late (never
    # later than DEFER_AFTER from now, should this host's clock be behind Discord's)
    age = max(0.0, time.time() - interaction.created_at.timestamp())
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=max(0.0, DEFER_AFTER - age))
        if not done:
            await interaction.response.defer(ephemeral=True, thinking=True)
        return await task
    finally:
        task.cancel()  # only if this was cancelled or the defer failed


async def reply(interaction: discord.Interaction, content: str, **fields) -> None:
    """The ephemeral answer: the response itself, or the follow-up of a deferred one."""
    if interaction.response.is_done():
        await interaction.followup.send(content, **fields)
    else:
        await interaction.response.send_message(content, ephemeral=True, **fields)


def article_pages(post: Post) -> list[str]:
    """The article as readable Discord markdown, in embed-sized pages (runs in a thread)."""
    markdown = html_to_markdown(post.content_html or post.summary_html, post.link)
    return split_markdown(markdown or "*This article has no text.*", 3800)


def random_embed(post: Post) -> discord.Embed:
    """`/archive random`'s answer: the post with its announcement's excerpt (in a thread)."""
    embed = hit_embed(post_summary(post))
    embed.description = render_announcement(post, None).description or None
    return embed


@app_commands.guild_only()
class Archive(
    commands.GroupCog, group_name="archive", group_description="Search the blogs' history"
):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        # as /discuss: three shares per member per server every 30 s
        self.share_limit = commands.CooldownMapping.from_cooldown(
            3, 30.0, lambda i: (i.guild_id, i.user.id)
        )
        super().__init__()

    async def empty_reason(self, interaction: discord.Interaction) -> str:
        """Why the member's archive is empty: no feed here, or none in a channel they view."""
        if await self.store.guild_subscriptions(interaction.guild_id):
            return "The feeds of this server are announced in channels you cannot view."
        return "The archive is empty: follow a blog with `/feed add` first."

    # --- autocomplete -----------------------------------------------------------------

    async def article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await article_choices(self.store, interaction, current)

    async def author_autocomplete(self, interaction: discord.Interaction, current: str):
        return await self._name_choices("author", interaction, current)

    async def category_autocomplete(self, interaction: discord.Interaction, current: str):
        return await self._name_choices("category", interaction, current)

    async def _name_choices(self, kind: str, interaction: discord.Interaction, current: str):
        """Authors or categories (`kind`) of the archive the member may read."""
        channels = viewable_channels(interaction)
        names = await suggestions(
            self.store.names_like(kind, interaction.guild_id, current, channels=channels)
        )
        return [app_commands.Choice(name=choice_name(n, "?"), value=n[:100]) for n in names]

    # --- commands ---------------------------------------------------------------------

    @app_commands.command(name="search", description="Search every article of this server's blogs")
    @app_commands.describe(
        query='Words to find; "quoted phrases", -excluded, word* prefixes',
        author="Only articles by this author",
        category="Only articles in this category or tag",
        after="Published on or after this day (YYYY-MM-DD)",
        before="Published before this day (YYYY-MM-DD)",
    )
    @app_commands.autocomplete(author=author_autocomplete, category=category_autocomplete)
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 1000],
        author: str | None = None,
        category: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> None:
        after_ts, before_ts = _date(after, "after"), _date(before, "before")
        channels = viewable_channels(interaction)  # as at the search: pages stay consistent

        async def fetch(number: int) -> SearchPage:
            return await self.store.search(
                interaction.guild_id,
                query,
                channels=channels,
                author=author,
                category=category,
                after=after_ts,
                before=before_ts,
                page=number,
                per_page=PER_PAGE,
            )

        shown = f"“{inline_markdown(query, 80)}”"
        view = ResultsView(interaction.user, interaction, fetch, shown, self.share_limit)
        content, embeds = await in_time(interaction, view.load(0))
        if not view.hits:
            page = view.page
            hint = page.notice or (
                "Nothing in the archive matches that. Try fewer or other words, or drop a filter."
            )
            await reply(interaction, f"No results for {shown}. {hint}")
            return
        await reply(interaction, content, embeds=embeds, view=view)

    @app_commands.command(name="latest", description="The newest articles of this server's blogs")
    @app_commands.describe(count="How many (1 to 10)")
    async def latest(
        self, interaction: discord.Interaction, count: app_commands.Range[int, 1, 10] = 5
    ) -> None:
        hits = await self.store.latest(
            interaction.guild_id, count, channels=viewable_channels(interaction)
        )
        if not hits:
            raise UserError(await self.empty_reason(interaction))
        embeds = [hit_embed(hit, n) for n, hit in enumerate(hits, 1)]
        await interaction.response.send_message(
            f"The {len(hits)} newest articles:", embeds=embeds, ephemeral=True
        )

    @app_commands.command(name="random", description="A random article from the archive")
    async def random(self, interaction: discord.Interaction) -> None:
        post = await self.store.random_post(
            interaction.guild_id, channels=viewable_channels(interaction)
        )
        if post is None:
            raise UserError(await self.empty_reason(interaction))
        # the announcement's excerpt (converts only the start of a long body): in a thread,
        # as /archive post does, so a long article does not stall the event loop
        embed = await asyncio.to_thread(random_embed, post)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="post", description="Read a whole article here")
    @app_commands.describe(article="Start typing its title")
    @app_commands.autocomplete(article=article_autocomplete)
    async def post(self, interaction: discord.Interaction, article: str) -> None:
        post = None
        if (post_id := typed_post_id(article)) is not None:
            post = await self.store.get_post_for_guild(
                interaction.guild_id, post_id, channels=viewable_channels(interaction)
            )
        if post is None:
            raise UserError("No such article in this server's archive: pick one from the list.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        pages = await asyncio.to_thread(article_pages, post)
        link = web_url(post.link)
        links = [f"[Read on the blog]({link})"] if link else []
        for discussion in await self.store.post_discussions(post.id):
            here = discussion.guild_id == interaction.guild_id and discussion.thread_id
            if here and discussion.state == "open" and can_view(interaction, discussion.channel_id):
                links.append(f"Discussion: <#{discussion.thread_id}>")
                break
        else:
            links.append("No discussion yet: `/discuss` opens one")
        view = ArticleView(interaction.user, interaction, post, pages, " · ".join(links))
        await interaction.followup.send(embed=view.render(), view=view)
