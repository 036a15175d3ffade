"""Text from outside on one line (bot/render/markdown.py `inline_markdown`) and `/feed list`
pages, for any input: properties checked with hypothesis."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render.markdown import inline_markdown
from cogs.feeds._listing import fit_lines, list_pages

MARKDOWN_BITS = ["*", "_", "~", "`", "|", "[", "]", "(", ")", "<", ">", "#", "-", "\\", "@"]
hostile = st.lists(
    st.one_of(
        st.text(max_size=20),
        st.sampled_from(MARKDOWN_BITS + ["\n", "@everyone", "<@&123>", "[x](https://e.example)"]),
    ),
    max_size=150,
).map("".join)
MASKED_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")
LIVE_MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)\d+>")


@settings(max_examples=300)
@given(hostile, st.integers(min_value=1, max_value=2000))
def test_inline_markdown_is_one_escaped_line_within_the_limit(text, limit):
    out = inline_markdown(text, limit)
    assert len(out) <= limit
    assert "\n" not in out and "\r" not in out
    assert not MASKED_LINK.search(out) and not LIVE_MENTION.search(out)
    assert not re.search(r"(?<!\\)(\\\\)*\\$", out)  # never ends inside an escape


def test_inline_markdown_keeps_ordinary_text():
    assert inline_markdown("Café Nouvelles", 100) == "Café Nouvelles"
    assert inline_markdown("a  b\n\tc", 100) == "a b c"
    assert inline_markdown("[x](https://e.example)", 100) == "\\[x\\](https://e.example)"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(hostile, st.lists(hostile, max_size=8)), min_size=1, max_size=70))
def test_feed_list_pages_fit_every_embed_limit(feeds):
    fields = [
        (
            inline_markdown(title, 256) or "(untitled)",
            fit_lines([inline_markdown(x, 300) for x in lines]),
        )
        for title, lines in feeds
    ]
    fields = [(name, value or "…") for name, value in fields]
    embeds = list_pages(fields)
    assert sum(len(e.fields) for e in embeds) == len(fields)
    for embed in embeds:
        assert 1 <= len(embed.fields) <= 25 and len(embed) <= 6000
        for field in embed.fields:
            assert 1 <= len(field.name) <= 256 and 1 <= len(field.value) <= 1024
