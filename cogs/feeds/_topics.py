"""`/feed roles`: topic roles members take themselves on a panel, mentioned by announcements.

The admin picks topics (the feed's categories and tags, most used first) in an ephemeral
menu; Gazette creates one role per topic (or links an existing role of the same name below
its own that grants nothing @everyone lacks, when the admin picks that option) and keeps a
panel message with one button per topic in the channel. A member's press gives or takes
that topic's role. The panel's buttons carry only a topic's row id: what it stands for
(server, role, panel message) is read from the store at each press, so a forged press from
another server does nothing.
Gazette only ever deletes, gives or takes roles it created or that an admin linked, and
never one at or above its own highest role.
"""

from __future__ import annotations

import contextlib
import logging
import re

import discord

from bot.app import Gazette
from bot.errors import UserError
from bot.models import Subscription
from bot.render.markdown import cut_plain, inline_markdown, inline_plain
from bot.topics import MAX_TOPICS, TopicRole, topic_key
from bot.tree import report

from ..common.channels import get_or_fetch_channel
from ..common.pages import OwnedView
from ..common.sending import NO_MENTIONS

log = logging.getLogger(__name__)

NO_MANAGE_ROLES = (
    "I need the **Manage Roles** permission for topic roles: give it to my role in Server "
    "Settings → Roles (and keep my role above the topic roles), then run `/feed roles` again. "
    "I only ever manage the roles I create for topics or that you link."
)
PANEL_GONE = "This topic is no longer offered here."
REASON_MEMBER = "Gazette topic panel: the member asked"


def _can_manage(guild: discord.Guild) -> bool:
    return guild.me is not None and guild.me.guild_permissions.manage_roles


def _below_me(guild: discord.Guild, role: discord.Role) -> bool:
    """Whether Gazette may give, take or delete `role` (never a managed role, @everyone, or
    one at or above its own highest role)."""
    return (
        guild.me is not None
        and role < guild.me.top_role
        and not role.managed
        and not role.is_default()
    )


#: A panel hands its roles to anyone who presses: never one that moderates the server
#: (Discord's "elevated" permissions: administrator, bans, manage roles, messages...) or
#: pings everyone, acts on other members or reads the audit log
_MODERATOR_POWERS = discord.Permissions.elevated() | discord.Permissions(
    mention_everyone=True,
    manage_nicknames=True,
    mute_members=True,
    deafen_members=True,
    move_members=True,
    manage_events=True,
    view_audit_log=True,
)
MODERATOR_ROLE = (
    "{role} can moderate the server (administrator, manage, kick, ban or mention @everyone "
    "permissions): a panel would give it to any member who presses, so I never hand it "
    "out. Pick a role without those permissions."
)


def _moderates(role: discord.Role) -> bool:
    return role.permissions.value & _MODERATOR_POWERS.value != 0


def _admin_may_give(interaction: discord.Interaction, role: discord.Role) -> bool:
    """Whether the admin could give `role` themselves (Discord's rule: the owner, or Manage
    Roles and the role below their own highest): Gazette hands out no role for someone
    who could not."""
    admin = interaction.user
    if interaction.guild is None or interaction.guild.owner_id == admin.id:
        return interaction.guild is not None
    perms = interaction.permissions
    may_manage = perms.administrator or perms.manage_roles
    return may_manage and isinstance(admin, discord.Member) and role < admin.top_role


def _linkable(interaction: discord.Interaction, role: discord.Role) -> bool:
    """Whether an existing role may stand for a topic: below Gazette, no moderator powers,
    and one the admin could give themselves."""
    return (
        _below_me(interaction.guild, role)
        and not _moderates(role)
        and _admin_may_give(interaction, role)
    )


def _grants_nothing(guild: discord.Guild, role: discord.Role) -> bool:
    """Whether the role gives no permission @everyone lacks: a topic's name comes from the
    blog, and one named like a staff role must not put that role on a self-serve panel."""
    return role.permissions.value & ~guild.default_role.permissions.value == 0


def _linkable_by_name(interaction: discord.Interaction, role: discord.Role) -> bool:
    """An existing role Gazette links on its own because it shares a topic's name (which the
    blog chose): linkable, and granting nothing @everyone lacks."""
    return _linkable(interaction, role) and _grants_nothing(interaction.guild, role)


def _same_name_role(guild: discord.Guild, topic: str) -> discord.Role | None:
    key = topic_key(topic)
    return next((r for r in guild.roles if topic_key(r.name) == key), None)


# --- the admin's side ------------------------------------------------------------------


async def ask_topics(bot: Gazette, interaction: discord.Interaction, sub: Subscription) -> None:
    """Answer `/feed roles` (already deferred): the menu of topics to offer."""
    guild = interaction.guild
    if not _can_manage(guild):
        raise UserError(NO_MANAGE_ROLES)
    current = await bot.store.topic_roles(sub.id)
    popular = await bot.store.popular_topics(sub.feed_id, MAX_TOPICS)
    chosen = {topic_key(t.topic) for t in current}
    # the topics offered now, then the most used others, within the menu's 25
    topics = [t.topic for t in current]
    topics += [t for t in popular if topic_key(t) not in chosen][: MAX_TOPICS - len(topics)]
    if not topics:
        raise UserError(
            "The archive holds no categories or tags for this feed yet: topic roles come "
            "from them. Try again once it has posts (`/feed backfill` imports its history)."
        )
    view = TopicPicker(bot, interaction, sub, topics, current)
    name = inline_markdown(sub.feed_title or sub.feed_url, 200)
    await interaction.followup.send(
        f"Pick the topics of **{name}** members may follow (most used first). Each gets a "
        "role (mentionable, without permissions) that members take or drop themselves on a "
        "panel I post in this channel; an announcement then mentions the roles of its "
        "post's topics. Unticking a topic removes it (and deletes the role if I made it).",
        view=view,
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )


def _option_note(
    interaction: discord.Interaction, topic: str, current: dict[str, TopicRole]
) -> str:
    guild = interaction.guild
    held = current.get(topic_key(topic))
    if held is not None:
        role = guild.get_role(held.role_id)
        return f"offered now: role @{role.name}" if role else "offered now"
    existing = _same_name_role(guild, topic)
    if existing is None:
        return "creates a role"
    if _linkable_by_name(interaction, existing):
        return f"links the existing role @{existing.name}"
    if not _below_me(guild, existing):
        return f"creates a role (the existing @{existing.name} is above mine)"
    if not _grants_nothing(guild, existing):
        return f"creates a role (the existing @{existing.name} has permissions)"
    return f"creates a role (the existing @{existing.name} is not one to hand out)"


class TopicPicker(OwnedView):
    """The admin's menu: which topics the panel offers."""

    def __init__(
        self,
        bot: Gazette,
        interaction: discord.Interaction,
        sub: Subscription,
        topics: list[str],
        current: list[TopicRole],
    ) -> None:
        super().__init__(interaction.user, interaction)
        self.bot, self.sub, self.topics = bot, sub, topics
        by_key = {topic_key(t.topic): t for t in current}
        menu = discord.ui.Select(
            placeholder="Topics members may follow",
            min_values=0,
            max_values=len(topics),
            options=[
                discord.SelectOption(
                    label=cut_plain(inline_plain(topic, 100, "?"), 100),
                    value=str(index),
                    description=cut_plain(_option_note(interaction, topic, by_key), 100),
                    default=topic_key(topic) in by_key,
                )
                for index, topic in enumerate(topics)
            ],
        )
        menu.callback = self._picked
        self.menu = menu
        self.add_item(menu)

    async def _picked(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        picked = [self.topics[int(value)] for value in self.menu.values]
        # the menu may have stayed open while another admin removed the feed: no role is
        # made for a subscription that can no longer hold it
        if await self.bot.store.get_subscription(self.sub.guild_id, self.sub.id) is None:
            text = "That feed is no longer followed here: no topic roles were made."
        else:
            text = await apply_topics(self.bot, interaction, self.sub, picked)
        self.stop()
        await interaction.edit_original_response(
            content=text, view=None, allowed_mentions=NO_MENTIONS
        )


async def apply_topics(
    bot: Gazette, interaction: discord.Interaction, sub: Subscription, picked: list[str]
) -> str:
    """Make the subscription's topics exactly `picked`: roles created, linked or deleted,
    the panel posted or brought up to date. Returns what to tell the admin."""
    guild = interaction.guild
    if not _can_manage(guild):
        return NO_MANAGE_ROLES
    current = {topic_key(t.topic): t for t in await bot.store.topic_roles(sub.id)}
    reason = f"Gazette topic roles for a feed, set by {interaction.user} ({interaction.user.id})"
    picked_keys = {topic_key(topic) for topic in picked}
    dropped = [t for key, t in current.items() if key not in picked_keys]
    kept: list[tuple[str, int, bool]] = []
    created, linked, problems = [], [], []
    refused = False
    try:
        for topic in picked:
            held = current.get(topic_key(topic))
            if held is not None and guild.get_role(held.role_id) is not None:
                kept.append((held.topic, held.role_id, held.created))
                continue
            existing = _same_name_role(guild, topic)
            if existing is not None and _linkable_by_name(interaction, existing):
                kept.append((topic, existing.id, False))
                linked.append(existing)
                continue
            if refused:
                continue
            try:
                role = await guild.create_role(
                    name=cut_plain(topic, 100),
                    permissions=discord.Permissions.none(),
                    mentionable=True,
                    reason=reason,
                )
            except discord.Forbidden:
                problems.append("Discord refused to create roles: check that I have Manage Roles.")
                refused = True
                continue
            except discord.HTTPException as exc:  # a name Discord refuses, too many roles
                topic_text = inline_markdown(topic, 80)
                problems.append(f"No role for **{topic_text}**: Discord refused it ({exc.status}).")
                continue
            kept.append((topic, role.id, True))
            created.append(role)
    finally:
        # what was made is recorded even if a later step failed, and topics still picked
        # are never forgotten with their roles
        have = {topic_key(name) for name, _, _ in kept}
        kept += [
            (t.topic, t.role_id, t.created)
            for key, t in current.items()
            if key in picked_keys and key not in have and guild.get_role(t.role_id)
        ]
        await bot.store.set_topic_roles(sub.id, kept)
    for gone in dropped:
        role = guild.get_role(gone.role_id)
        if gone.created and role is not None and _below_me(guild, role):
            try:
                await role.delete(reason=reason)
            except discord.HTTPException as exc:
                problems.append(f"I could not delete the role {role.mention} ({exc.status}).")
    panel_text = await refresh_panel(bot, sub, interaction.channel)
    lines = []
    if kept:
        names = ", ".join(f"<@&{role_id}>" for _, role_id, _ in kept)
        count = f"{len(kept)} topic" + ("s" if len(kept) > 1 else "")
        lines.append(f"Members may now follow {count}: {names}.")
    else:
        lines.append("No topics are offered any more.")
    if created:
        lines.append(f"Roles created: {', '.join(r.mention for r in created)}.")
    if linked:
        lines.append(f"Existing roles linked: {', '.join(r.mention for r in linked)}.")
        lines += _unmentionable(linked, guild)
    if dropped:
        names = ", ".join(inline_markdown(t.topic, 80) for t in dropped)
        lines.append(f"Removed: {names}.")
    lines.append(panel_text)
    return "\n".join(lines + problems)


async def link_topic(
    bot: Gazette,
    interaction: discord.Interaction,
    sub: Subscription,
    topic: str,
    role: discord.Role,
) -> str:
    """`/feed roles` with a topic and a role: the admin links an existing role to a topic
    (in place of the one Gazette made for it, if any). Returns what to tell the admin."""
    guild = interaction.guild
    if not _can_manage(guild):
        raise UserError(NO_MANAGE_ROLES)
    if role.is_default() or role.managed:
        raise UserError(
            "That role is @everyone or belongs to an integration: members cannot be given it."
        )
    if _moderates(role):
        raise UserError(MODERATOR_ROLE.format(role=role.mention))
    if not _below_me(guild, role):
        raise UserError(
            f"{role.mention} sits at or above my own highest role, so I could not give it to "
            "members: move it below mine (Server Settings → Roles) or pick another."
        )
    if not _admin_may_give(interaction, role):
        raise UserError(
            f"You could not give {role.mention} yourself (it takes **Manage Roles** and a role "
            "of yours above it), so I will not hand it out for you: ask someone who can."
        )
    topic = " ".join(topic.split())[:100]
    key = topic_key(topic)
    if not key:
        raise UserError("Name the topic (a category or tag of the blog) the role stands for.")
    current = await bot.store.topic_roles(sub.id)
    replaced = next((t for t in current if topic_key(t.topic) == key), None)
    if replaced is None and len(current) >= MAX_TOPICS:
        raise UserError(
            f"A panel offers at most {MAX_TOPICS} topics: untick one with `/feed roles` first."
        )
    topics = [
        (t.topic, role.id, False) if t is replaced else (t.topic, t.role_id, t.created)
        for t in current
    ]
    if replaced is None:
        topics.append((topic, role.id, False))
    await bot.store.set_topic_roles(sub.id, topics)
    lines = [f"Members who pick **{inline_markdown(topic, 100)}** on the panel get {role.mention}."]
    old = guild.get_role(replaced.role_id) if replaced is not None else None
    if old is not None and old != role and replaced.created and _below_me(guild, old):
        try:
            await old.delete(reason=f"Gazette topic role replaced by {role.name}, by an admin")
            # named after a blog's category: escaped like anything from the blog
            lines.append(
                f"The role I had made for it (@{inline_markdown(old.name, 100)}) is deleted."
            )
        except discord.HTTPException as exc:
            lines.append(f"I could not delete the role I had made for it ({exc.status}).")
    lines += _unmentionable([role], guild)
    lines.append(await refresh_panel(bot, sub, interaction.channel))
    return "\n".join(lines)


def _unmentionable(roles: list[discord.Role], guild: discord.Guild) -> list[str]:
    """A warning for linked roles that announcements could show but not ping."""
    if guild.me is not None and guild.me.guild_permissions.mention_everyone:
        return []
    silent = [r.mention for r in roles if not r.mentionable]
    if not silent:
        return []
    return [
        f"{', '.join(silent)} cannot be mentioned by me: turn on “Allow anyone to @mention this "
        "role” (Server Settings → Roles) or announcements will name it without pinging anyone."
    ]


async def topic_choices(bot: Gazette, sub: Subscription | None, current: str) -> list[str]:
    """The feed's topics containing the text typed, most used first (autocomplete)."""
    if sub is None:
        return []
    typed = topic_key(current)
    return [t for t in await bot.store.popular_topics(sub.feed_id) if typed in topic_key(t)]


# --- the panel ---------------------------------------------------------------------------


def _panel_content(sub: Subscription) -> str:
    name = inline_markdown(sub.feed_title or sub.feed_url, 200)
    return (
        f"**Topics of {name}**\nPress a topic to be mentioned when <#{sub.channel_id}> "
        "announces a post about it; press it again to stop. Only you see the answer."
    )


def _panel_view(topics: list[TopicRole]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for topic in topics[:MAX_TOPICS]:
        view.add_item(TopicButton(topic.id, cut_plain(inline_plain(topic.topic, 80, "?"), 80)))
    return view


async def refresh_panel(
    bot: Gazette, sub: Subscription, channel: discord.abc.Messageable | None
) -> str:
    """The subscription's panel as its topics now are: edited in place, posted in `channel`
    when it has none (or it was deleted), deleted when no topic is left. Returns a line for
    the admin."""
    topics = await bot.store.topic_roles(sub.id)
    panel = await bot.store.topic_panel(sub.id)
    message = None
    if panel is not None:
        with contextlib.suppress(discord.NotFound, discord.Forbidden):
            where = await get_or_fetch_channel(bot, panel[0])
            message = where.get_partial_message(panel[1])
    if not topics:
        if message is not None:
            with contextlib.suppress(discord.NotFound):
                await message.delete()
        await bot.store.forget_topic_panel(sub.id)
        return "The panel is removed."
    content, view = _panel_content(sub), _panel_view(topics)
    if message is not None:
        try:
            await message.edit(content=content, view=view, allowed_mentions=NO_MENTIONS)
            return f"The panel in <#{panel[0]}> is up to date."
        except discord.NotFound:
            pass  # deleted by hand: posted again below
    if channel is None:
        await bot.store.forget_topic_panel(sub.id)
        return "The panel is gone."
    try:
        sent = await channel.send(content, view=view, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:
        return f"I could not post the panel here ({exc.status}): check that I may send messages."
    await bot.store.set_topic_panel(sub.id, sent.channel.id, sent.id)
    return f"The panel is posted in <#{sent.channel.id}>."


class TopicButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"gazette:topic:(?P<topic_id>[0-9]{1,20})"
):
    """One topic on a panel; works across restarts (registered with add_dynamic_items)."""

    def __init__(self, topic_id: int, label: str = "?") -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"gazette:topic:{topic_id}",
            )
        )
        self.topic_id = topic_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> TopicButton:
        # a forged id beyond SQLite's integers names no topic (0 is never a row id)
        topic_id = int(match["topic_id"])
        return cls(topic_id if topic_id < 2**63 else 0, item.label or "?")

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            text = await toggle_topic(interaction.client, interaction, self.topic_id)
        except Exception as exc:
            await report(interaction, exc, f"topic button {self.topic_id}")
            return
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def toggle_topic(bot: Gazette, interaction: discord.Interaction, topic_id: int) -> str:
    """Give the member the topic's role, or take it back; what to tell them."""
    topic = await bot.store.topic_role(topic_id)
    panel = await bot.store.topic_panel(topic.subscription_id) if topic else None
    message_id = interaction.message.id if interaction.message else None
    # the store says which server and message the topic belongs to, never the custom_id
    if topic is None or topic.guild_id != interaction.guild_id or panel is None:
        log.info("topic press %s from server %s refused", topic_id, interaction.guild_id)
        return PANEL_GONE
    if panel[1] != message_id:
        return PANEL_GONE
    guild = interaction.guild
    role = guild.get_role(topic.role_id)
    name = inline_markdown(topic.topic, 100)
    if role is None:
        return f"The role for **{name}** was deleted: an admin can run `/feed roles` again."
    if not _can_manage(guild):
        return "I cannot give roles here any more (I need **Manage Roles**): tell an admin."
    if not _below_me(guild, role):
        return (
            f"I cannot give the role for **{name}**: it now sits above my own role. "
            "An admin can move it below mine."
        )
    member = interaction.user
    try:
        if member.get_role(role.id) is not None:
            await member.remove_roles(role, reason=REASON_MEMBER)
            return f"You will no longer be mentioned for **{name}**."
        if _moderates(role):  # given powers since it was linked: taken back only
            return (
                f"I cannot give the role for **{name}**: it can moderate the server now. "
                "An admin can remove those permissions from it."
            )
        await member.add_roles(role, reason=REASON_MEMBER)
    except discord.Forbidden:
        return "Discord refused to change your roles: an admin should check my Manage Roles."
    return f"You will be mentioned for posts about **{name}** (role {role.mention})."


async def drop_topics(bot: Gazette, guild: discord.Guild, sub: Subscription) -> None:
    """The subscription is going: its panel is removed and the roles Gazette made for its
    topics are deleted (linked roles are left alone)."""
    topics = await bot.store.topic_roles(sub.id)
    if not topics:
        return
    await bot.store.set_topic_roles(sub.id, [])
    await refresh_panel(bot, sub, None)
    for topic in topics:
        role = guild.get_role(topic.role_id)
        if topic.created and role is not None and _below_me(guild, role):
            try:
                await role.delete(reason="Gazette: the feed is no longer followed here")
            except discord.HTTPException as exc:
                log.info("topic role %s not deleted: %s", role.id, exc)


async def role_deleted(bot: Gazette, role: discord.Role) -> None:
    """A role deleted by hand: its topics are dropped and their panels brought up to date."""
    for subscription_id in await bot.store.forget_topic_role(role.id):
        sub = await bot.store.get_subscription(role.guild.id, subscription_id)
        if sub is not None:
            await refresh_panel(bot, sub, None)
