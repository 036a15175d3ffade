"""A WordPress-like blog whose feed tests can change: publish, edit, re-date, reorder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape

from aiohttp import web

from tests.httpserver import LocalSite


@dataclass
class BlogPost:
    wp_id: int
    title: str
    html: str
    published: float
    author: str = "Ada Writer"
    categories: list[str] = field(default_factory=lambda: ["News"])
    image: str | None = None


class Blog:
    """Serves /feed/ (RSS 2.0 as WordPress writes it) and a home page linking to it."""

    def __init__(self, site: LocalSite, title: str = "The Test Blog", prefix: str = "") -> None:
        self.site = site
        self.title = title
        self.prefix = prefix
        self.posts: list[BlogPost] = []
        self._next_id = 100
        self.serve()

    @property
    def home_url(self) -> str:
        return self.site.url(f"{self.prefix}/")

    @property
    def feed_url(self) -> str:
        return self.site.url(f"{self.prefix}/feed/")

    def publish(self, title: str, html: str = "<p>Hello, readers.</p>", **fields) -> BlogPost:
        self._next_id += 1
        # recent, in publication order (entries dated over a week ago are archived silently)
        published = fields.pop("published", time.time() - 86400 + self._next_id * 60)
        post = BlogPost(self._next_id, title, html, published, **fields)
        self.posts.append(post)
        self.serve()
        return post

    def link(self, post: BlogPost) -> str:
        return self.site.url(f"{self.prefix}/{post.wp_id}/")

    def rss(self, page: int = 1) -> str:
        items = []
        newest_first = sorted(self.posts, key=lambda p: p.published, reverse=True)
        for post in newest_first[(page - 1) * 10 : page * 10]:
            categories = "".join(f"<category><![CDATA[{c}]]></category>" for c in post.categories)
            image = f'<p><img src="{post.image}" alt="cover"></p>' if post.image else ""
            items.append(
                f"<item><title>{escape(post.title)}</title><link>{self.link(post)}</link>"
                f"<dc:creator><![CDATA[{post.author}]]></dc:creator>"
                f"<pubDate>{formatdate(post.published, usegmt=True)}</pubDate>{categories}"
                f'<guid isPermaLink="false">{self.site.url(self.prefix)}/?p={post.wp_id}</guid>'
                f"<description><![CDATA[{post.html[:200]}]]></description>"
                f"<content:encoded><![CDATA[{image}{post.html}]]></content:encoded></item>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{escape(self.title)}</title><link>{self.home_url}</link>"
            "<description>Tests</description>" + "".join(items) + "</channel></rss>"
        )

    def serve(self) -> None:
        """(Re)serve the feed as it is now; `?paged=N` gives older pages, 404 past the end."""
        first_page = self.rss()

        async def feed(request: web.Request) -> web.Response:
            page = int(request.query.get("paged", "1") or 1)
            if page > 1 and (page - 1) * 10 >= len(self.posts):
                return web.Response(status=404, text="Page not found")
            body = first_page if page == 1 else self.rss(page)
            return web.Response(text=body, content_type="application/rss+xml", charset="utf-8")

        self.site.route(f"{self.prefix}/feed/", handler=feed)
        self.site.route(
            f"{self.prefix}/",
            f'<html><head><title>{escape(self.title)}</title><link rel="alternate" '
            f'type="application/rss+xml" title="{escape(self.title)} &raquo; Feed" '
            f'href="{self.feed_url}"></head><body>Home</body></html>',
            content_type="text/html; charset=UTF-8",
        )
