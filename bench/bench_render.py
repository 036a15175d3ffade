"""Cost of rendering: a normal post and comment, and each known hostile HTML.

    python bench/bench_render.py [--rounds N]

Normal cases are the 4 KB WordPress posts of bench_parse.py (best of N rounds, µs); hostile
cases are one conversion each (ms), the size of the input beside them. Each message style
(bot/render/style.py) is timed beside render_announcement, alone and with a template using
every placeholder. Every hostile case
must stay roughly linear in its size: doubling an input should double its time, not
quadruple it (html.parser and several patterns used to be quadratic).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_parse import post_html  # noqa: E402
from bot.models import Comment, Entry  # noqa: E402
from bot.render.announcement import render_announcement  # noqa: E402
from bot.render.comment import render_comment  # noqa: E402
from bot.render.markdown import html_to_markdown  # noqa: E402
from bot.render.style import PLACEHOLDERS, STYLES, render_styled  # noqa: E402

SITE = "http://127.0.0.1:8080"

HOSTILE = {
    "500 nested <b>": "<b>" * 500 + "x" + "</b>" * 500,
    "20,000 nested <div>": "<div>" * 20000 + "x" + "</div>" * 20000,
    "3,000 nested <ul><li>": "<ul><li>" * 3000 + "x",
    "1 MB attribute": "<p title='" + "a" * 1_000_000 + "'>x</p>",
    "50,000 <li> in one <ol>": "<ol>" + "<li>x</li>" * 50000 + "</ol>",
    '"<a " x 170,000 (unfinished tags)': "<a " * 170_000,
    '"<!--" x 128,000': "<!--" * 128_000,
    "500 KB of spaces in a <p>": "<p>x" + " " * 500_000 + "x</p>",
    '100,000 "&#32;" in a <p>': "<p>x" + "&#32;" * 100_000 + "x</p>",
    "60,000 <br> then 60,000 </b>": "<br>" * 60000 + "</b>" * 60000,
}


def best(fn, number: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    posts = [
        Entry(
            key=str(i),
            title=f"Post number {i}: notes & thoughts",
            link=f"{SITE}/2024/05/post-{i}/",
            author="Ada Writer",
            categories=["News", f"tag-{i % 5}"],
            summary_html=" ".join(["word"] * 55) + " [&#8230;]",
            content_html=post_html(random.Random(i), i),
        )
        for i in range(10)
    ]
    comment = Comment(
        1, 1, None, "Ada", None, None, 1.7e9,
        "<p>Nice post, <b>thanks</b>! I <em>really</em> liked it.</p>"
        f"<p>A second paragraph with <a href='{SITE}/x/'>a link</a>.</p>",
        f"{SITE}/2024/05/post-1/#comment-1",
    )  # fmt: skip
    print(f"normal cases, best of {args.rounds} rounds")
    print(f"{'case':45} {'µs':>10}")
    per_post = best(lambda: [render_announcement(p, "Feed") for p in posts], 30, args.rounds)
    print(f"{'render_announcement (excerpt), per post':45} {per_post / 10:10.1f}")
    template = " ".join(f"{{{name}}}" for name in PLACEHOLDERS)  # every placeholder
    for style, with_template in [(s, t) for s in STYLES for t in (None, template)]:
        styled = best(
            lambda style=style, t=with_template: [
                render_styled(p, "Feed", style, t, [42]) for p in posts
            ],
            30,
            args.rounds,
        )
        name = f"render_styled {style}" + (", every placeholder" if with_template else "")
        print(f"{name + ', per post':45} {styled / 10:10.1f}")
    per_body = best(
        lambda: [html_to_markdown(p.content_html, p.link) for p in posts], 10, args.rounds
    )
    print(f"{'html_to_markdown, 4 KB body':45} {per_body / 10:10.1f}")
    print(f"{'render_comment':45} {best(lambda: render_comment(comment), 200, args.rounds):10.1f}")
    print("\nhostile HTML, one html_to_markdown each")
    print(f"{'case':45} {'bytes':>10} {'ms':>10}")
    for name, html in HOSTILE.items():
        start = time.perf_counter()
        html_to_markdown(html)
        print(f"{name:45} {len(html):10,} {(time.perf_counter() - start) * 1e3:10.1f}")


if __name__ == "__main__":
    main()
