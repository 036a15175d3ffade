"""Replies back to the blog: members' messages in an article's thread posted as comments.

Knows nothing of Discord (cogs/replies posts what members ask for). A server's admin connects
one of its feeds to a WordPress account with an application password (WordPress 5.6+): the
password is checked at once against `GET /wp/v2/users/me`, then kept in the store, never shown
nor logged. A reply is `POST /wp/v2/comments` as that account, with `author` set to the
account's own id and `author_name` to "NAME (via Discord)": WordPress lets any signed-in
account set `author_name` on its own comments (only `author`, `author_ip` and `status` need
`moderate_comments`), so the member's name is what the blog shows, while the comment stays the
account's for moderation, for "previously approved" and for withdrawing.

Exactly once: the reply is recorded before the request; a request whose outcome is unknown
(timeout, connection cut, an answer that is not WordPress's) is never sent again by itself.
When its comment comes back through the comment watcher it is recognised by its author and
text (`claim_own`) and shown by the member's message, not mirrored a second time; a member who
tries again sends the same text, which WordPress's duplicate check refuses (409) if the first
try had arrived.

Facts relied on (WordPress 6.1 source, checked against the real one in the tests):
* a moderator's comments (and the post author's) are approved at once; anyone else's go
  through the blog's moderation settings (the POST answers status "hold");
* `DELETE /wp/v2/comments/ID` trashes; it needs `moderate_comments` or the right to edit the
  article; 410 rest_already_trashed, 501 when the blog has no trash (then `force=true`);
* application passwords work only over HTTPS unless WP_ENVIRONMENT_TYPE is 'local'
  (401 application_passwords_disabled otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .fetch import FetchError
from .limits import (
    MAX_ERROR,
    MAX_REPLY_ANSWER,
    MAX_REPLY_BYTES,
    MAX_REPLY_CHARS,
    MAX_REPLY_NAME,
    REPLY_RETRY_AFTER,
    REPLY_TIMEOUT,
    clip,
)
from .models import BlogConnection, BlogReply, DiscussionInfo, MirrorItem
from .store import Store
from .text import clean_text, one_line
from .wordpress import WordPressError, api_url, find_rest_post_id, find_rest_root

log = logging.getLogger(__name__)

VIA = "via Discord"
JSON_ACCEPT = "application/json"
_WRONG_LOGIN = {"incorrect_password", "invalid_username", "invalid_email", "invalid_login"}
_LOOSE = re.compile(r"\W+")
# letters that show nothing: Hangul fillers, the Braille blank (format characters, Cf, neither)
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_NOT_OFFERED = {"code": "application_passwords_disabled", "message": ""}


class ReplyError(Exception):
    """Why a connection or a reply did not go through, in words for the person who asked."""


@dataclass(slots=True)
class ReplyOutcome:
    """What became of a reply: state 'approved', 'held', 'spam' or 'unknown'."""

    state: str
    comment_id: int | None = None
    link: str | None = None
    note: str | None = None  # why the outcome is unknown


@dataclass(slots=True)
class _Answer:
    status: int
    payload: Any  # the JSON, or None when the body was not JSON

    @property
    def code(self) -> str:
        code = self.payload.get("code") if isinstance(self.payload, dict) else None
        return code if isinstance(code, str) else ""

    @property
    def message(self) -> str:
        message = self.payload.get("message") if isinstance(self.payload, dict) else None
        return one_line(message[:2000])[:300] if isinstance(message, str) else ""

    @property
    def is_wordpress_error(self) -> bool:
        """WordPress itself refused (its JSON error): the request was not carried out."""
        return bool(self.code)


# --------------------------------------------------------------------------- text


def author_name(display_name: str) -> str:
    """The comment's author as the blog shows it: "NAME (via Discord)"."""
    name = one_line(clean_text(display_name or ""))[:MAX_REPLY_NAME].strip()
    return f"{name or 'A Discord member'} ({VIA})"


def reply_html(text: str) -> str:
    """A member's text as the comment's content: escaped (nothing in it is markup, whatever
    the connected account may post), its line breaks kept (WordPress makes paragraphs)."""
    text = clean_text(text).replace("\r\n", "\n").strip()
    if not any(_visible(c) for c in text):
        raise ReplyError(
            "There is no text to post (attachments, stickers and embeds are not sent)."
        )
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyError(f"That is too long for a comment: {MAX_REPLY_CHARS:,} characters at most.")
    content = html.escape(text, quote=False)
    if len(content.encode("utf-8")) > MAX_REPLY_BYTES:
        raise ReplyError("That is too long for the blog's comments.")
    return content


def _visible(c: str) -> bool:
    return not c.isspace() and c not in _BLANK_LETTERS and unicodedata.category(c) != "Cf"


def _loose(text: str) -> str:
    """Letters and digits only, case aside: WordPress's display filters (curly quotes,
    dashes, smilies, links made clickable) change nothing here."""
    return _LOOSE.sub("", text.casefold())


def same_comment(reply: BlogReply, author: str, content_html: str) -> bool:
    """Whether a comment read from the blog is this reply (its id not known yet)."""
    return _loose(reply.author_name) == _loose(author) and _loose(
        html.unescape(reply.content)
    ) == _loose(one_line(content_html))


def site_of(feed_url: str, site_url: str | None) -> str:
    """The blog's address: the feed's site link, else the feed's origin."""
    if site_url:
        return site_url
    parts = urlsplit(feed_url)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def _host(url: str) -> str:
    """A URL's host name, a leading "www." aside (blog.example and www.blog.example agree)."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _basic(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _json_id(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def _text(value: Any, limit: int = 300) -> str:
    if isinstance(value, dict):
        value = value.get("rendered")
    return one_line(value[: 8 * limit])[:limit] if isinstance(value, str) else ""


# --------------------------------------------------------------------------- the service


class Replies:
    """Connections and replies; one per bot (`bot.replies`)."""

    def __init__(
        self,
        store: Store,
        fetcher,
        *,
        allow_http: bool = False,
        timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.allow_http = allow_http
        self.timeout = timeout

    # --- talking to the blog --------------------------------------------------------

    async def _call(
        self,
        method: str,
        url: str,
        connection: BlogConnection,
        json_body: Any = None,
    ) -> _Answer:
        """One authenticated REST call; FetchError when no answer came back whole."""
        headers = {
            "Accept": JSON_ACCEPT,
            "Authorization": _basic(connection.username, connection.app_password),
        }
        status, body = await self.fetcher.send(
            method,
            url,
            headers=headers,
            json_body=json_body,
            total_timeout=self.timeout,
            max_bytes=MAX_REPLY_ANSWER,
        )
        try:
            payload = json.loads(body.decode("utf-8-sig")) if body.strip() else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            payload = None
        return _Answer(status, payload)

    def _check_scheme(self, rest_root: str) -> None:
        if urlsplit(rest_root).scheme != "https" and not self.allow_http:
            raise ReplyError(
                f"The blog's API is at {rest_root}, without HTTPS: the application password "
                "would cross the internet readable by anyone on the way, so Gazette refuses it "
                "(WordPress itself only allows application passwords over HTTPS). Serve the "
                "blog over HTTPS, then connect again."
            )

    # --- connecting -----------------------------------------------------------------

    async def connect(
        self,
        *,
        guild_id: int,
        feed_id: int,
        site: str,
        username: str,
        password: str,
        by: int,
    ) -> BlogConnection:
        """Check the account against the blog and store the connection (ReplyError: why not)."""
        username = username.strip()
        password = password.strip()
        if not username or not password:
            raise ReplyError("Give the WordPress login and an application password.")
        try:
            async with asyncio.timeout(3 * self.timeout):
                root = await find_rest_root(self.fetcher, site)
        except (TimeoutError, WordPressError, FetchError) as exc:
            log.info("REST discovery for %s failed: %s", site, exc)
            root = None
        if root is None:
            raise ReplyError(
                f"I found no WordPress REST API at {site}: replies need WordPress 5.6 or "
                "later with its REST API on (some security plugins switch it off)."
            )
        self._check_scheme(root)
        if _host(root) != _host(site):
            raise ReplyError(
                f"The blog says its API is at {root}, another address than {site}: Gazette "
                "sends the application password only to the blog's own address."
            )
        candidate = BlogConnection(
            guild_id=guild_id,
            feed_id=feed_id,
            rest_root=root,
            username=username,
            wp_user_id=0,
            wp_user_name="",
            can_moderate=False,
            connected_by=by,
            connected_at=time.time(),
            app_password=password,
        )
        url = api_url(root, "wp/v2/users/me", {"context": "edit"})
        try:
            answer = await self._call("GET", url, candidate)
        except FetchError as exc:
            raise ReplyError(f"The blog did not answer ({exc}); try again later.") from None
        user = answer.payload if answer.status == 200 else None
        user_id = _json_id(user.get("id")) if isinstance(user, dict) else None
        if user_id is None:
            if answer.code == "rest_not_logged_in" and not await self._offers_app_passwords(root):
                raise ReplyError(self._login_problem(_Answer(401, _NOT_OFFERED)))
            raise ReplyError(self._login_problem(answer))
        capabilities = user.get("capabilities")
        capabilities = capabilities if isinstance(capabilities, dict) else {}
        candidate.wp_user_id = user_id
        candidate.wp_user_name = _text(user.get("name"), 100) or username[:100]
        candidate.can_moderate = capabilities.get("moderate_comments") is True
        await self.store.set_blog_connection(candidate)
        log.info(
            "server %s connected feed %s to the blog account %s (id %s)",
            guild_id,
            feed_id,
            candidate.wp_user_name,
            user_id,
        )
        return candidate

    async def _offers_app_passwords(self, root: str) -> bool:
        """Whether the REST index announces application passwords (WordPress lists them
        there only when they are available: over HTTPS, not turned off). WordPress answers
        a refused application password with the same "not logged in" as a missing one."""
        try:
            result = await self.fetcher.get(
                api_url(root, "", {"_fields": "authentication"}), accept=JSON_ACCEPT
            )
            index = json.loads(result.body.decode("utf-8-sig"))
        except (FetchError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            log.info("could not read the REST index at %s: %s", root, exc)
            return True  # unknown: say what the usual causes are
        if not isinstance(index, dict) or "authentication" not in index:
            return True  # not told
        methods = index["authentication"]  # [] (PHP's empty array) when none is offered
        return isinstance(methods, dict) and "application-passwords" in methods

    @staticmethod
    def _login_problem(answer: _Answer) -> str:
        code = answer.code
        if code in _WRONG_LOGIN:
            return (
                "WordPress refused that login or application password. Use the account's "
                "login name (or e-mail) and an application password made under Users → "
                "Profile → Application Passwords (not the account's usual password)."
            )
        if code == "application_passwords_disabled":
            return (
                "Application passwords are not available on this blog: WordPress offers them "
                "only over HTTPS, and a plugin or the site's settings may have turned them off."
            )
        if code == "application_passwords_disabled_for_user":
            return "Application passwords are turned off for that account on this blog."
        if code == "rest_not_logged_in" or (answer.status == 401 and not code):
            # what WordPress 6.1 answers for a wrong application password too
            return (
                "WordPress did not sign Gazette in. Check the login name and the application "
                "password (made under Users → Profile → Application Passwords, not the "
                "account's usual password). If both are right, application passwords are "
                "turned off on the blog, or the web server in front of it drops the "
                "Authorization header (a common Apache/CGI setting)."
            )
        if code == "rest_disabled" or (answer.status in (401, 403) and code):
            return f"The blog's REST API refused Gazette's account ({code or answer.status})."
        if 300 <= answer.status < 400:
            return (
                "The blog redirected the request elsewhere; credentials are never sent after a "
                "redirect. Make the feed's site address the blog's own address."
            )
        if answer.status == 404:
            return "The blog's REST API has no /wp/v2/users/me: is it WordPress 5.6 or later?"
        if answer.status >= 500:
            return f"The blog answered HTTP {answer.status}; try again later."
        return f"The blog answered something unexpected (HTTP {answer.status})."

    async def disconnect(self, guild_id: int, feed_id: int) -> bool:
        return await self.store.remove_blog_connection(guild_id, feed_id)

    # --- replying -------------------------------------------------------------------

    async def _connection_for(self, guild_id: int, post_id: int) -> BlogConnection:
        post = await self.store.get_post(post_id)
        connection = (
            await self.store.blog_connection(guild_id, post.feed_id, with_secret=True)
            if post is not None
            else None
        )
        if connection is None:
            raise ReplyError(
                "Replies to the blog are not switched on for this feed: a server admin can "
                "connect it with `/feed connect`."
            )
        return connection

    async def _wp_id(self, connection: BlogConnection, post_id: int) -> int:
        wp_id = await self.store.post_wp_id(post_id)
        if wp_id is not None:
            return wp_id
        post = await self.store.get_post(post_id)
        found = None
        if post is not None and post.link:
            try:
                async with asyncio.timeout(self.timeout):
                    found = await find_rest_post_id(self.fetcher, connection.rest_root, post.link)
            except (TimeoutError, WordPressError, FetchError) as exc:
                log.info("looking up post %s on the blog failed: %s", post_id, exc)
        if found is None:
            raise ReplyError("I could not find this article through the blog's REST API.")
        return found

    async def post(
        self,
        *,
        guild_id: int,
        discussion: DiscussionInfo,
        member_id: int,
        member_name: str,
        text: str,
        source_key: str,
        message_id: int | None,
        parent_comment_id: int | None,
    ) -> ReplyOutcome:
        """Post a member's text as a comment on the discussion's article (ReplyError: why not).

        Recorded before the request; see the module's docstring for what an unknown outcome
        means.
        """
        content = reply_html(text)
        connection = await self._connection_for(guild_id, discussion.post_id)
        self._check_scheme(connection.rest_root)
        wp_id = await self._wp_id(connection, discussion.post_id)
        name = author_name(member_name)
        shown_as = name
        if not connection.names_kept:  # the blog shows its account's name: say who in the text
            content = html.escape(f"{name}: ", quote=False) + content
            shown_as = connection.wp_user_name
        reply, go, retry = await self.store.begin_reply(
            guild_id=guild_id,
            discussion_id=discussion.id,
            post_id=discussion.post_id,
            source_key=source_key,
            message_id=message_id,
            member_id=member_id,
            author_name=shown_as,
            content=content,
            parent_comment_id=parent_comment_id,
            retry_after=REPLY_RETRY_AFTER,
        )
        if not go:
            raise ReplyError(self._already(reply))
        body: dict[str, Any] = {
            "post": wp_id,
            "content": content,
            "author": connection.wp_user_id,
            "author_name": name,
        }
        if parent_comment_id:
            body["parent"] = parent_comment_id
        url = api_url(connection.rest_root, "wp/v2/comments")
        try:
            answer = await self._call("POST", url, connection, body)
        except FetchError as exc:
            note = clip(str(exc), MAX_ERROR)
            await self.store.reply_failed(reply.id, note, unknown=True)
            log.info("reply %s: outcome unknown: %s", reply.id, note)
            return ReplyOutcome("unknown", note=note)
        return await self._posted(reply, answer, retry=retry, connection=connection)

    @staticmethod
    def _already(reply: BlogReply) -> str:
        if reply.state in ("held", "approved"):
            where = f": {reply.link}" if reply.link and reply.state == "approved" else ""
            return f"That message is already on the blog{where}."
        return (
            "That message is being sent to the blog already. If it does not arrive, try "
            f"again in {REPLY_RETRY_AFTER:.0f} seconds."
        )

    async def _posted(
        self, reply: BlogReply, answer: _Answer, *, retry: bool, connection: BlogConnection
    ) -> ReplyOutcome:
        payload = answer.payload
        comment_id = _json_id(payload.get("id")) if isinstance(payload, dict) else None
        if answer.status in (200, 201) and comment_id is not None:
            status = payload.get("status")
            state = {"approved": "approved", "spam": "spam"}.get(status, "held")
            link = payload.get("link") if isinstance(payload.get("link"), str) else None
            link = link if link and len(link) <= 2048 else None
            shown = payload.get("author_name")
            if isinstance(shown, str) and _loose(shown) != _loose(reply.author_name):
                # a plugin put the account's name back: later replies say who in their text
                log.info("reply %s: the blog shows it as %r", reply.id, shown[:100])
                if connection.names_kept:
                    await self.store.names_not_kept(connection.guild_id, connection.feed_id)
            await self.store.finish_reply(
                reply, comment_id=comment_id, state="held" if state == "spam" else state, link=link
            )
            log.info("reply %s posted as comment %s (%s)", reply.id, comment_id, state)
            return ReplyOutcome(state, comment_id, link)
        if answer.code == "comment_duplicate" and retry:
            # an earlier try reached the blog: recognised when it comes back
            note = "the blog already has it from an earlier try"
            await self.store.reply_failed(reply.id, note, unknown=True)
            return ReplyOutcome("unknown", note=note)
        if answer.is_wordpress_error or 300 <= answer.status < 500:
            problem = self._refusal(answer)
            await self.store.reply_failed(reply.id, problem)
            log.info("reply %s refused: HTTP %s %s", reply.id, answer.status, answer.code)
            raise ReplyError(problem)
        note = f"the blog answered HTTP {answer.status} without saying what became of it"
        await self.store.reply_failed(reply.id, note, unknown=True)
        log.info("reply %s: outcome unknown: %s", reply.id, note)
        return ReplyOutcome("unknown", note=note)

    @staticmethod
    def _refusal(answer: _Answer) -> str:
        code = answer.code
        known = {
            "comment_duplicate": "The blog already has exactly this comment from you.",
            "comment_flood": "The blog says comments are coming too fast: wait a moment.",
            "rest_comment_closed": "Comments are closed on this article.",
            "rest_comment_draft_post": "This article is no longer published on the blog.",
            "rest_comment_trash_post": "This article is no longer published on the blog.",
            "rest_comment_invalid_post_id": "This article is no longer on the blog.",
            "rest_comment_content_invalid": "The blog refused the text of the comment.",
            "comment_content_column_length": "That is too long for the blog's comments.",
            "rest_comment_author_data_required": (
                "The blog requires a name and e-mail for comments, and Gazette's account has "
                "no e-mail address."
            ),
            "rest_comment_login_required": (
                "The blog no longer accepts Gazette's application password: a server admin "
                "can connect the feed again with `/feed connect`."
            ),
        }
        if code in known:
            return known[code]
        if (
            code in _WRONG_LOGIN
            or code.startswith("application_passwords")
            or (answer.status == 401)
        ):
            return known["rest_comment_login_required"]
        if 300 <= answer.status < 400:
            return "The blog redirected the request; it was not sent there."
        detail = f"{code}: {answer.message}" if code and answer.message else code
        detail = f", {detail}" if detail else ""
        return f"The blog refused the comment (HTTP {answer.status}{detail})."

    # --- withdrawing ----------------------------------------------------------------

    async def withdraw(self, reply: BlogReply) -> str:
        """Trash the reply's comment on the blog; returns what to tell (ReplyError: why not)."""
        if reply.state == "withdrawn":
            raise ReplyError("That comment was already withdrawn from the blog.")
        if reply.comment_id is None:
            raise ReplyError(
                "The blog has not confirmed that comment, so there is nothing to withdraw yet."
            )
        connection = await self._connection_for(reply.guild_id, reply.post_id)
        self._check_scheme(connection.rest_root)
        url = api_url(connection.rest_root, f"wp/v2/comments/{reply.comment_id}")
        try:
            answer = await self._call("DELETE", url, connection)
            if answer.code == "rest_trash_not_supported":  # a blog without a trash
                answer = await self._call(
                    "DELETE",
                    api_url(
                        connection.rest_root,
                        f"wp/v2/comments/{reply.comment_id}",
                        {"force": "true"},
                    ),
                    connection,
                )
        except FetchError as exc:
            raise ReplyError(f"The blog did not answer ({exc}); try again later.") from None
        gone = answer.code in ("rest_already_trashed", "rest_comment_invalid_id")
        if answer.status == 200 or gone:
            await self.store.set_reply_state(reply.id, "withdrawn")
            log.info("reply %s (comment %s) withdrawn", reply.id, reply.comment_id)
            return "Withdrawn: the comment is no longer on the blog."
        if answer.code in ("rest_cannot_delete", "rest_cannot_edit") or answer.status == 403:
            raise ReplyError(
                f"The blog does not let Gazette's account ({connection.wp_user_name}) remove "
                "comments on this article: WordPress allows it only to accounts that can "
                "moderate comments or edit the article. Ask the blog's moderators."
            )
        if answer.status == 401:
            raise ReplyError(self._refusal(answer))
        raise ReplyError(f"The blog could not withdraw it (HTTP {answer.status}); try again later.")

    # --- recognising replies that come back -----------------------------------------

    async def claim_own(
        self, discussion: DiscussionInfo, items: list[MirrorItem]
    ) -> list[MirrorItem]:
        """The comments to mirror, without those sent from this discussion whose id was not
        known yet (a send cut short, or read back before its answer came): each is recorded
        as shown by the member's message instead."""
        new = [item for item in items if item.message_id is None and not item.removed]
        if not new:
            return items
        pending = await self.store.pending_replies(discussion.id)
        if not pending:
            return items
        claimed: set[int] = set()
        for item in new:
            reply = next(
                (
                    r
                    for r in pending
                    if same_comment(r, item.comment.author, item.comment.content_html)
                ),
                None,
            )
            if reply is None:
                continue
            pending.remove(reply)
            await self.store.finish_reply(
                reply, comment_id=item.comment.id, state="approved", link=item.comment.link or None
            )
            log.info("comment %s recognised as reply %s", item.comment.id, reply.id)
            claimed.add(item.comment.id)
        return [item for item in items if item.comment.id not in claimed]
