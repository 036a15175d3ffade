"""Message styles and templates (bot/render/style.py): what a template may say, and that no
post can put a mention, markdown, a masked link or a second preview into a message through a
placeholder, whatever it holds, within Discord's 2,000 characters.

The same messages go over the wire in tests/test_style_wire.py.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.models import Entry
from bot.render.style import (
    CONTENT_LIMIT,
    PLACEHOLDERS,
    STYLES,
    TEMPLATE_LIMIT,
    TemplateError,
    check_template,
    render_styled,
)
from cogs.common.styles import announcement_message
from tests.test_render_properties import (
    PROPERTIES,
    assert_clean,
    assert_embed_within_limits,
    html_docs,
    texts,
)

ROLE = 4242
LINK = "https://blog.example/2026/12/a-post/?p=7"


def entry(title="A post", html="<p>Hello, readers.</p>", **fields) -> Entry:
    return Entry(key="k", title=title, link=LINK, summary_html=html, **fields)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("New: {titel}", "Unknown placeholder {titel}"),
        ("{title.__class__}", "Unknown placeholder {title.\\_\\_class\\_\\_}"),
        ("{title[0]}", "Unknown placeholder {title\\[0\\]}"),
        ("{0} {}", "Unknown placeholder {0}"),
        ("{title!r}", "Write the placeholder as {title}"),
        ("{title:>300}", "Write the placeholder as {title}"),
        ("New: {title", "opens or closes no placeholder"),
        ("New} {title}", "opens or closes no placeholder"),
        ("x" * (TEMPLATE_LIMIT + 1), f"{TEMPLATE_LIMIT + 1} characters long; at most 300"),
    ],
)
def test_a_template_that_cannot_be_used_says_why(template, says):
    with pytest.raises(TemplateError) as raised:
        check_template(template)
    assert says in str(raised.value)


def test_a_template_with_invisible_characters_is_cleaned_or_explained():
    # a direction override in a template would flip everything after it, the post's own
    # title included; a zero-width character inside a placeholder's name hides the mistake
    kept = check_template("\u202eNew:\u0007 {title}\u2066")
    assert kept == "New: {title}"
    shown = render_styled(entry("Hi"), None, "full", "\u202e{title}", [])
    assert shown.content == "Hi"
    with pytest.raises(TemplateError) as raised:
        check_template("New: {ti\u200btle}")
    assert "invisible" in str(raised.value) and "{title}" in str(raised.value)


def test_a_good_template_is_kept_and_braces_are_doubled():
    assert check_template("  {{new}} {title} {link}  ") == "{{new}} {title} {link}"
    assert check_template("   ") is None and check_template(None) is None
    shown = render_styled(entry("Hi"), None, "full", "{{new}} {title}", [])
    assert shown.content == "{new} Hi"


def test_each_style_without_a_template():
    post = entry("Hello world", "<p>First words.</p><p>Second.</p>", author="Ada")
    full = announcement_message(render_styled(post, "Blog", "full", None, [ROLE]))
    assert full.content == f"<@&{ROLE}>" and full.embed.description.startswith("First words.")
    compact = announcement_message(render_styled(post, "Blog", "compact", None, []))
    assert compact.content is None and not compact.embed.fields and not compact.embed.image
    assert (compact.embed.title, compact.embed.url) == ("Hello world", LINK)
    assert (
        compact.embed.description == "First words. Second." and compact.embed.author.name == "Ada"
    )
    link = announcement_message(render_styled(post, "Blog", "link", None, [ROLE]))
    assert link.embed is None
    assert link.content == f"<@&{ROLE}>\n**Hello world**\n{LINK}"


def test_the_roles_and_the_link_are_never_left_out():
    # a template without {roles} still pings the role; a link message still has its link
    shown = render_styled(entry("Hi"), None, "link", "New: {title}", [ROLE])
    assert shown.content == f"<@&{ROLE}>\nNew: Hi\n{LINK}"
    # in an embed style the link is in <>: the embed is the preview, no second one
    shown = render_styled(entry("Hi"), None, "compact", "{title} {link}", [])
    assert shown.content == f"Hi <{LINK}>"


def test_a_long_fill_gives_way_excerpt_first_and_keeps_link_and_roles():
    post = entry("T" * 250, "<p>" + "word " * 2000 + "</p>", author="A" * 300)
    template = "{excerpt} " * 20 + "{title} {author} {link} {roles}"
    shown = render_styled(post, None, "link", template, [ROLE])
    assert len(shown.content) <= CONTENT_LIMIT
    assert shown.content.endswith(f"{LINK} <@&{ROLE}>")
    assert "T" * 200 in shown.content  # the title kept; the excerpts gave way


# --------------------------------------------------------------------------- properties

VALUE_MENTION = re.compile(r"<@&(\d+)>")
EVERY_PLACEHOLDER = " / ".join(f"{{{name}}}" for name in PLACEHOLDERS) + " "
templates = st.lists(
    st.one_of(
        st.sampled_from(PLACEHOLDERS).map(lambda name: f"{{{name}}}"),
        st.sampled_from([" ", " · ", "New: ", "\u2014", "by ", "{{", "}}", "\n"]),
    ),
    max_size=30,
).map(lambda parts: EVERY_PLACEHOLDER + "".join(parts))


@PROPERTIES
@example(  # each attack at least once, whatever hypothesis draws
    title="@everyone <@&1> <@2> http://a.example/x [a](http://b.example) **b** `c`",
    author="@here ||d|| # e",
    categories=["<@&3>", "](http://c.example)"],
    html="<p>@everyone https://d.example <a href='https://e.example'>f</a></p>",
    template=EVERY_PLACEHOLDER,
    style="link",
    roles=[],
    default=False,
)
@given(
    title=texts,
    author=texts,
    categories=st.lists(texts, max_size=4),
    html=html_docs,
    template=templates,
    style=st.sampled_from(STYLES),
    roles=st.lists(st.integers(1, 10**19), max_size=5),
    default=st.booleans(),
)
def test_no_post_can_ping_or_break_out_through_a_placeholder(
    title, author, categories, html, template, style, roles, default
):
    template = template[:TEMPLATE_LIMIT].rstrip("{}")
    try:
        check_template(template)
    except TemplateError:  # a cut left a lone brace: not what this test is about
        template = EVERY_PLACEHOLDER
    if default:
        template = None
    post = entry(title, html, author=author, categories=categories)
    shown = render_styled(post, "Feed", style, template, roles)
    message = announcement_message(shown)
    content = message.content or ""
    assert len(content) <= CONTENT_LIMIT and len(message.plain) <= CONTENT_LIMIT
    assert content or message.embed is not None  # Discord takes no empty message
    # the only mentions are the roles meant, and only the caller's allowed_mentions ping
    assert {int(r) for r in VALUE_MENTION.findall(content)} <= set(roles)
    assert message.mentions.everyone is False and message.mentions.users is False
    if roles:
        assert [r.id for r in message.mentions.roles] == roles
    else:
        assert message.mentions.roles is False
    rest = VALUE_MENTION.sub("", content).replace(LINK, "")
    assert_clean(rest)  # no @everyone, <@id>, control or bidi character from the post
    assert "://" not in rest  # no address Discord would link or preview, the post's aside
    # no masked link nor markdown from a value (these templates write none themselves)
    assert not re.search(r"(?<!\\)\]\(", rest), rest
    if template is not None:
        assert not re.search(r"(?<!\\)[*_~|`]", rest), rest
    if message.embed is not None:
        assert_embed_within_limits(message.embed)


@PROPERTIES
@given(title=texts, html=html_docs, style=st.sampled_from(STYLES))
def test_a_removed_post_in_any_style_fits_and_has_no_link(title, html, style):
    shown = render_styled(entry(title, html), None, style, "{title} {link} {excerpt}", [ROLE])
    content = shown.content or ""
    assert len(content) <= CONTENT_LIMIT
    shown_removed = render_styled(
        entry(title, html), None, style, "{title} {link} {excerpt}", [ROLE], removed=True
    )
    assert LINK not in (shown_removed.content or "")
