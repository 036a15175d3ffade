"""`/archive`: search and read the history of the blogs this server follows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Gazette
from bot.errors import UserError
from bot.models import Post
from bot.render import (
    html_to_markdown,
    inline_markdown,
    render_announcement,
    split_markdown,
    web_url,
)
from bot.search import QueryError, SearchHit, SearchPage, parse_date

from .common.autocomplete import (
    article_choices,
    choice_name,
    plain_line,
    suggestions,
    typed_post_id,
)
from .common.embeds import GAZETTE_COLOUR, discord_time
from .common.pages import OwnedView, PagedView
from .common.visibility import can_view, viewable_channels

log = logging.getLogger(__name__)

PER_PAGE = 5


def hit_embed(hit: SearchHit, number: int | None = None) -> discord.Embed:
    """One result; everything from the blog escaped (Share posts it in public)."""
    prefix = f"{number}. " if number is not None else ""
    embed = discord.Embed(
        title=prefix + (inline_markdown(hit.title, 256 - len(prefix)) or "(untitled)"),
        url=web_url(hit.link),
        description=hit.snippet or None,
        colour=GAZETTE_COLOUR,
    )
    byline = [inline_markdown(hit.author, 200)] if hit.author else []
    if hit.published_at:
        byline.append(discord_time(hit.published_at, "D"))
    if hit.categories:
        byline.append(inline_markdown(", ".join(hit.categories), 700))
    if byline:
        embed.add_field(name="\u200b", value=" · ".join(byline), inline=False)
    return embed


def post_summary(post: Post) -> SearchHit:
    return SearchHit(
        post_id=post.id,
        title=post.title,
        link=post.link,
        author=post.author,
        published_at=post.published_at,
        categories=post.categories,
        snippet="",
    )


class ShareButton(discord.ui.Button["ResultsView"]):
    def __init__(self, number: int, row: int = 1) -> None:
        super().__init__(label=f"Share {number}", style=discord.ButtonStyle.secondary, row=row)
        self.number = number

    async def callback(self, interaction: discord.Interaction) -> None:
        hit = self.view.hits[self.number - 1]
        perms = interaction.permissions
        if not (perms.send_messages and perms.embed_links):
            raise UserError("You cannot post links in this channel, so I will not do it for you.")
        subs = await interaction.client.store.guild_subscriptions(interaction.guild_id)
        sources = [s.channel_id for s in subs if s.feed_id == hit.feed_id]
        if not any(can_view(interaction, c) for c in sources):
            raise UserError("That article is no longer in an archive you can read.")
        if not any(shared_audience(interaction.channel, c) for c in sources):
            raise UserError(
                "That article's blog is announced in a channel not everyone here can view, "
                "so I will not share it in this channel."
            )
        # the bot posts publicly where slowmode does not hold it back: a few shares at a time
        if retry := self.view.share_limit.get_bucket(interaction).update_rate_limit():
            raise UserError(f"Slow down: you can share again in {retry:.0f} s.")
        try:
            await interaction.channel.send(
                f"{interaction.user.mention} shared from the archive:",
                embed=hit_embed(hit),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.Forbidden:
            raise UserError("I am not allowed to post in this channel.") from None
        await interaction.response.send_message("Shared in the channel.", ephemeral=True)


def shared_audience(target, source_id: int) -> bool:
    """Whether everyone who can view `target` (a thread: its parent) can surely view the
    channel `source_id` too: the same channel, one nobody is kept out of, or one whose
    View Channel overwrites are the same (then every member sees both or neither)."""
    if isinstance(target, discord.Thread):
        target = target.parent
    guild = getattr(target, "guild", None)
    source = guild.get_channel(source_id) if guild is not None else None
    if source is None or not isinstance(target, discord.abc.GuildChannel):
        return False  # a channel the cache does not hold: no way to tell, so no
    if source.id == target.id:
        return True
    if source.permissions_for(guild.default_role).view_channel and not any(
        o.view_channel is False for o in source.overwrites.values()
    ):
        return True
    return _view_overwrites(source) == _view_overwrites(target)


def _view_overwrites(channel) -> dict[int, bool]:
    overwrites = channel.overwrites.items()
    return {who.id: o.view_channel for who, o in overwrites if o.view_channel is not None}


class ResultsView(OwnedView):
    """A page of results with Previous/Next and a Share button per result.

    The data comes from `fetch(page)`, so the view knows nothing of what is searched.
    """

    def __init__(
        self,
        owner: discord.abc.User,
        interaction: discord.Interaction,
        fetch: Callable[[int], Awaitable[SearchPage]],
        heading: str,
        share_limit: commands.CooldownMapping,
    ) -> None:
        super().__init__(owner, interaction)
        self.fetch = fetch
        self.heading = heading
        self.share_limit = share_limit  # the cog's, per member: shared by all their searches
        self.page: SearchPage | None = None
        self.hits: list[SearchHit] = []

    def render(self) -> tuple[str, list[discord.Embed]]:
        page = self.page
        pages = f"page {page.page + 1}" + (f" of {page.pages}" if page.pages else "")
        content = f"{self.heading}: {page.total_text()} ({pages})"
        offset = page.page * page.per_page
        embeds = [hit_embed(hit, offset + n) for n, hit in enumerate(self.hits, 1)]
        self.previous.disabled = not page.has_previous
        self.next.disabled = not page.has_more
        for item in [c for c in self.children if isinstance(c, ShareButton)]:
            self.remove_item(item)
        for n in range(1, len(self.hits) + 1):
            self.add_item(ShareButton(n))
        return content, embeds

    async def load(self, number: int) -> tuple[str, list[discord.Embed]]:
        self.page = await self.fetch(number)
        self.hits = self.page.results
        return self.render()

    async def turn(self, interaction: discord.Interaction, number: int) -> None:
        content, embeds = await self.load(number)
        await interaction.response.edit_message(content=content, embeds=embeds, view=self)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.primary, row=0)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self.turn(interaction, max(0, self.page.page - 1))

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.primary, row=0)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self.turn(interaction, self.page.page + 1)


class ArticleView(PagedView):
    """An article split into pages at paragraph boundaries."""

    def __init__(self, owner, interaction, post: Post, pages: list[str], links: str) -> None:
        super().__init__(owner, interaction, len(pages))
        self.post = post
        self.pages = pages
        self.links = links

    def page(self, number: int) -> discord.Embed:
        embed = discord.Embed(
            title=inline_markdown(self.post.title, 256) or "(untitled)",
            url=web_url(self.post.link),
            description=self.pages[number],
            colour=GAZETTE_COLOUR,
        )
        if self.post.author:
            embed.set_author(name=plain_line(self.post.author, 256) or "?")
        if self.post.published_at:
            embed.add_field(name="Published", value=discord_time(self.post.published_at, "D"))
        embed.add_field(name="Links", value=self.links, inline=False)
        embed.set_footer(text=f"Page {number + 1} of {self.count}")
        return embed


def _date(text: str | None, name: str) -> float | None:
    if not text:
        return None
    try:
        return parse_date(text)
    except QueryError as exc:
        raise UserError(f"`{name}`: {exc}") from None


def article_pages(post: Post) -> list[str]:
    """The article as readable Discord markdown, in embed-sized pages (runs in a thread)."""
    markdown = html_to_markdown(post.content_html or post.summary_html, post.link)
    return split_markdown(markdown or "*This article has no text.*", 3800)


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
        names = await suggestions(
            self.store.authors_like(
                interaction.guild_id,
                current,
                limit=25,
                channels=viewable_channels(interaction),
            )
        )
        return [app_commands.Choice(name=choice_name(n, "?"), value=n[:100]) for n in names]

    async def category_autocomplete(self, interaction: discord.Interaction, current: str):
        names = await suggestions(
            self.store.categories_like(
                interaction.guild_id,
                current,
                limit=25,
                channels=viewable_channels(interaction),
            )
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
        await interaction.response.defer(ephemeral=True, thinking=True)
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
        content, embeds = await view.load(0)
        if not view.hits:
            page = view.page
            hint = page.notice or (
                "Nothing in the archive matches that. Try fewer or other words, or drop a filter."
            )
            await interaction.followup.send(f"No results for {shown}. {hint}")
            return
        await interaction.followup.send(content, embeds=embeds, view=view)

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
        embed = hit_embed(post_summary(post))
        # the announcement's excerpt: converts only the start of a long body
        embed.description = render_announcement(post, None).description or None
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
            if discussion.guild_id == interaction.guild_id and discussion.thread_id:
                if discussion.state == "open" and can_view(interaction, discussion.channel_id):
                    links.append(f"Discussion: <#{discussion.thread_id}>")
                    break
        else:
            links.append("No discussion yet: `/discuss` opens one")
        view = ArticleView(interaction.user, interaction, post, pages, " · ".join(links))
        await interaction.followup.send(embed=view.render(), view=view)


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Archive(bot))
