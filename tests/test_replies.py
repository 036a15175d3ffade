"""The pure parts of replies back to the blog: what a member's text becomes on the blog, and
how a comment read back is recognised as a member's reply."""

from __future__ import annotations

import pytest

from bot.limits import MAX_REPLY_CHARS
from bot.models import BlogReply
from bot.replies import ReplyError, author_name, reply_html, same_comment, site_of


def test_a_members_text_is_never_markup():
    html = reply_html("<script>alert(1)</script> & <b>bold</b>\r\n\r\nnext")
    assert "<" not in html and ">" not in html
    assert html == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;\n\nnext"


@pytest.mark.parametrize("text", ["", "   \n ", "\u202e\u0000\u2066"])
def test_no_text_is_refused(text):
    with pytest.raises(ReplyError, match="no text"):
        reply_html(text)


def test_too_long_is_refused():
    reply_html("x" * MAX_REPLY_CHARS)
    with pytest.raises(ReplyError, match="too long"):
        reply_html("x" * (MAX_REPLY_CHARS + 1))


def test_the_authors_name_says_via_discord_and_stays_one_short_line():
    assert author_name("Mia") == "Mia (via Discord)"
    assert author_name("") == "A Discord member (via Discord)"
    long = author_name("a\u202e" + "b" * 500 + "\n")
    assert long.endswith(" (via Discord)") and "\u202e" not in long and len(long) < 100


def _reply(author: str, content: str) -> BlogReply:
    return BlogReply(
        1, 1, 1, 1, "message:1", 1, 1, author, content, None, None, "sending", None, 0.0, 0.0, None
    )


def test_a_comment_read_back_is_recognised_through_wordpress_display_filters():
    reply = _reply("Mia (via Discord)", reply_html('It\'s "great" -- see https://x.example :)'))
    # what WordPress's filters make of it (curly quotes, en dash, clickable link, smiley)
    shown = (
        '<p>It&#8217;s &#8220;great&#8221; &#8211; see <a href="https://x.example" '
        'rel="nofollow ugc">https://x.example</a> <img src="s.png" alt=":)" /></p>\n'
    )
    assert same_comment(reply, "Mia (via Discord)", shown)
    assert not same_comment(reply, "Bob (via Discord)", shown)
    assert not same_comment(reply, "Mia (via Discord)", "<p>Something else.</p>")


def test_the_blogs_address_is_its_site_else_the_feeds_origin():
    assert site_of("https://blog.example/feed/", None) == "https://blog.example/"
    assert site_of("https://feeds.example/x", "https://blog.example/") == "https://blog.example/"
