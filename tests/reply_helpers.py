"""A WordPress-like blog that also takes comments over REST with an application password,
for the replies-to-the-blog tests over the wire (tests/test_replies_wire.py).

Served on 127.0.0.1 by a LocalSite, on top of tests/discussion_helpers.WPBlog (which serves
the feed and the comments Gazette reads): `GET /wp/v2/users/me` and `POST /wp/v2/comments`
checking HTTP Basic credentials as WordPress does (spaces in an application password do not
count), `DELETE /wp/v2/comments/ID`, with the blog's moderation and faults to switch on.
"""

from __future__ import annotations

import asyncio
import base64
import json

from aiohttp import web

from tests.discussion_helpers import WPBlog, WPComment
from tests.httpserver import LocalSite

USER = "gazette"
PASSWORD = "abcd EFGH ijkl MNOP qrst UVWX"
USER_ID = 7


class ReplyBlog(WPBlog):
    """moderate: the account may moderate (its comments approved, it may trash any);
    hold: the blog holds comments for moderation (for accounts that cannot moderate);
    fault: None, "html500" (a proxy's 502 page, nothing created), "created502" (the comment
    is created, then a 502 comes back), "created_hang" (created, then no answer), "wp500"
    (WordPress's own JSON error), "slow" (no answer for a minute), "huge" (an endless
    answer), "duplicate" (409 comment_duplicate)."""

    def __init__(self, site: LocalSite, *, moderate: bool = True, hold: bool = False) -> None:
        super().__init__(site)
        self.moderate = moderate
        self.hold = hold
        self.fault: str | None = None
        self.app_passwords = True
        self.keep_names = True  # False: author_name ignored, as some plugins do
        self.posted: list[dict] = []  # bodies of the POSTs that created a comment
        self.requests: list[tuple[str, str]] = []  # (method, Authorization) of REST calls
        self._comments_get = self.site.routes["/wp-json/wp/v2/comments"].handler
        site.route("/wp-json/wp/v2/users/me", handler=self._me)
        site.route("/wp-json/wp/v2/comments", handler=self._comments)

    # -- credentials -----------------------------------------------------------------

    def _signed_in(self, request: web.Request) -> web.Response | None:
        """None when the request carries the account's application password, else the
        answer WordPress gives."""
        header = request.headers.get("Authorization", "")
        self.requests.append((request.method, header))
        if not header.startswith("Basic "):
            return _error(401, "rest_not_logged_in", "You are not currently logged in.")
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        if user != USER:
            return _error(401, "invalid_username", "Unknown username.")
        if not self.app_passwords:
            return _error(401, "application_passwords_disabled", "Not available.")
        if "".join(password.split()) != "".join(PASSWORD.split()):
            return _error(401, "incorrect_password", "The provided password is invalid.")
        return None

    async def _me(self, request: web.Request) -> web.Response:
        refused = self._signed_in(request)
        if refused:
            return refused
        return web.json_response(
            {
                "id": USER_ID,
                "name": "Gazette Bot",
                "capabilities": {"read": True, "moderate_comments": self.moderate},
            }
        )

    # -- comments --------------------------------------------------------------------

    async def _comments(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            return await self._comments_get(request)
        refused = self._signed_in(request)
        if refused:
            return refused
        if self.fault == "slow":
            await asyncio.sleep(60)
        if self.fault == "html500":
            return web.Response(status=502, text="<html>Bad gateway</html>")
        if self.fault == "wp500":
            return _error(500, "rest_comment_failed_create", "Creating comment failed.")
        if self.fault == "duplicate":
            return _error(409, "comment_duplicate", "Duplicate comment detected.")
        body = await request.json()
        if body.get("author") not in (None, USER_ID) and not self.moderate:
            return _error(403, "rest_comment_invalid_author", "Sorry, not allowed.")
        post = self.posts.get(int(body["post"]))
        if post is None:
            return _error(403, "rest_comment_invalid_post_id", "Sorry, no such post.")
        self.posted.append(body)
        comment = self.comment(
            post,
            f"<p>{body['content']}</p>",
            author=(self.keep_names and body.get("author_name")) or "Gazette Bot",
            parent=self.comments.get(int(body.get("parent") or 0)),
            approved=self.moderate or not self.hold,
            avatar=None,
        )
        self.site.route(f"/wp-json/wp/v2/comments/{comment.id}", handler=self._one_comment)
        if self.fault == "created502":
            return web.Response(status=502, text="Bad gateway")
        if self.fault == "created_hang":  # taken, then no answer (Gazette dies meanwhile)
            await asyncio.sleep(60)
        if self.fault == "huge":
            response = web.StreamResponse(status=201, headers={"Content-Type": "application/json"})
            await response.prepare(request)
            for _ in range(64):  # 4 MB and counting
                await response.write(b" " * 65536)
            return response
        return web.json_response(self.rest_comment(comment), status=201)

    def rest_comment(self, c: WPComment) -> dict:
        return {
            "id": c.id,
            "post": c.post,
            "parent": c.parent,
            "author": USER_ID,
            "author_name": c.author,
            "status": "approved" if c.approved else "hold",
            "link": self.comment_link(c),
            "content": {"rendered": c.html},
        }

    async def _one_comment(self, request: web.Request) -> web.Response:
        refused = self._signed_in(request)
        if refused:
            return refused
        comment = self.comments[int(request.path.rsplit("/", 1)[-1])]
        if request.method != "DELETE":
            return web.json_response(self.rest_comment(comment))
        if not self.moderate:
            return _error(403, "rest_cannot_delete", "Sorry, you cannot delete this comment.")
        if comment.type == "trash":
            return _error(410, "rest_already_trashed", "The comment has already been trashed.")
        comment.type, comment.approved = "trash", False
        return web.json_response({**self.rest_comment(comment), "status": "trash"})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"code": code, "message": message, "data": {"status": status}}),
        content_type="application/json",
    )
