"""What `/archive` shows: results with Share buttons, an article a page at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord.ext import commands

from bot.errors import UserError
from bot.models import Post
from bot.render.markdown import inline_markdown, web_url
from bot.search import SearchHit, SearchPage

from ..common.autocomplete import plain_line
from ..common.embeds import GAZETTE_COLOUR, discord_time
from ..common.pages import OwnedView, PagedView
from ..common.visibility import can_view


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
