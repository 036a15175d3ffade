"""A real WordPress on 127.0.0.1 for tests (scripts/wordpress.sh), one per test session.

Use it from a test module:

    from tests.wordpress_fixture import wordpress, wp_blog  # noqa: F401  (pytest fixtures)

    pytestmark = pytest.mark.wordpress

    async def test_something(wp_blog):          # a WordPress emptied for this test
        post = await wp_blog.create_post("Title", categories=["News"])
        c = await wp_blog.create_comment(post.id, "Hello", author="Ann")
        ... fetch wp_blog.url + "/feed/" ...

`wordpress` (session scope) starts the instance once, in a fresh state dir on a free port, and
stops it at the end; `wp_blog` (function scope) resets it first: no posts, comments, extra
users or terms; REST API on; pretty permalinks. Tests are skipped with the reason when
WordPress cannot start (packages missing: `scripts/wordpress.sh install`), unless
GAZETTE_REQUIRE_WORDPRESS=1 (CI), where that is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "wordpress.sh"


class WordPressUnavailable(RuntimeError):
    pass


@dataclass(slots=True)
class CreatedPost:
    id: int
    link: str
    guid: str
    comments_feed: str
    featured_media: int


@dataclass(slots=True)
class CreatedComment:
    id: int
    link: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _date(value: float | int | datetime | str | None) -> int | str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


class WordPress:
    """Handle on a running instance; the async helpers run scripts/wordpress/wp.php."""

    def __init__(self, state_dir: Path, url: str) -> None:
        self.state_dir = state_dir
        self.url = url.rstrip("/")  # http://127.0.0.1:PORT
        self.env = {**os.environ, "WP_STATE_DIR": str(state_dir)}

    # ---------------------------------------------------------------- lifecycle (sync)

    @classmethod
    def start(cls, state_dir: Path, port: int | None = None) -> WordPress:
        if not shutil.which("php") or not Path("/usr/share/wordpress/wp-load.php").exists():
            raise WordPressUnavailable(
                "WordPress packages not installed (run: scripts/wordpress.sh install)"
            )
        if not shutil.which("mariadbd") and not Path("/usr/sbin/mariadbd").exists():
            raise WordPressUnavailable(
                "mariadb-server not installed (scripts/wordpress.sh install)"
            )
        env = {**os.environ, "WP_STATE_DIR": str(state_dir)}
        proc = subprocess.run(
            ["bash", str(SCRIPT), "start", str(port or _free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True)
            raise WordPressUnavailable(
                f"scripts/wordpress.sh start failed: {proc.stderr.strip()[-800:]}"
            )
        return cls(state_dir, proc.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=self.env, capture_output=True, timeout=60)

    def run_sync(self, cmd: str, **args: Any) -> Any:
        return self._decode(
            subprocess.run(
                ["bash", str(SCRIPT), "wp", "batch"],
                input=json.dumps([{"cmd": cmd, **args}]).encode(),
                env=self.env,
                capture_output=True,
                timeout=60,
            )
        )[0]

    @staticmethod
    def _decode(proc: subprocess.CompletedProcess | tuple[int, bytes, bytes]) -> list[Any]:
        if isinstance(proc, tuple):
            rc, out, err = proc
        else:
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        if rc != 0:
            raise RuntimeError(f"wp.php failed ({rc}): {err.decode(errors='replace')[-800:]}")
        return json.loads(out)

    # ---------------------------------------------------------------- helpers (async)

    async def batch(self, ops: Sequence[dict[str, Any]]) -> list[Any]:
        """Run several wp.php commands in one PHP process ([{"cmd": ..., **args}, ...]).

        "KEY_ref": N in an op stands for the id made by op N of the same batch, e.g. a post
        and its comments with replies in one go: {"cmd": "create-comment", "post_ref": 0,
        "parent_ref": 1, ...}. About 0.1 s per batch plus a few ms per op.
        """
        proc = await asyncio.create_subprocess_exec(
            "bash",
            str(SCRIPT),
            "wp",  # php scripts/wordpress/wp.php, with the script's OPcache settings
            "batch",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(list(ops)).encode()), 60)
        return self._decode((proc.returncode or 0, out, err))

    async def run(self, cmd: str, **args: Any) -> Any:
        return (await self.batch([{"cmd": cmd, **args}]))[0]

    @staticmethod
    def post_op(
        title: str,
        *,
        content: str | None = None,
        excerpt: str | None = None,
        categories: Sequence[str] = (),
        tags: Sequence[str] = (),
        author: str | None = None,
        featured_image: bool = False,
        date: float | int | datetime | str | None = None,
        status: str = "publish",
        slug: str | None = None,
        comment_status: str = "open",
        guid_style: str = "editor",
    ) -> dict[str, Any]:
        op: dict[str, Any] = {
            "cmd": "create-post",
            "title": title,
            "categories": list(categories),
            "tags": list(tags),
            "featured_image": featured_image,
            "status": status,
            "comment_status": comment_status,
            "guid_style": guid_style,
        }
        for k, v in (
            ("content", content),
            ("excerpt", excerpt),
            ("author", author),
            ("date", _date(date)),
            ("slug", slug),
        ):
            if v is not None:
                op[k] = v
        return op

    async def create_post(self, title: str, **kw: Any) -> CreatedPost:
        """A post (published by default). See post_op for the options."""
        return CreatedPost(**await self.run(**self.post_op(title, **kw)))

    async def create_posts(self, ops: Sequence[dict[str, Any]]) -> list[CreatedPost]:
        """Many posts in one PHP run: ops made with WordPress.post_op(...)."""
        return [CreatedPost(**r) for r in await self.batch(ops)]

    @staticmethod
    def comment_op(
        post_id: int | None,
        content: str = "A comment.",
        *,
        post_ref: int | None = None,
        parent_ref: int | None = None,
        author: str = "Reader",
        email: str | None = None,
        url: str | None = None,
        parent: int | None = None,
        approved: bool | str = True,
        type: str = "comment",
        date: float | int | datetime | str | None = None,
        raw: bool = False,
    ) -> dict[str, Any]:
        """post_ref / parent_ref: in a batch, the index of the op that made the post / parent."""
        op: dict[str, Any] = {
            "cmd": "create-comment",
            "post": post_id or 0,
            "content": content,
            "author": author,
            "parent": parent or 0,
            "approved": approved,
            "type": type,
            "raw": raw,
        }
        for k, v in (
            ("email", email),
            ("url", url),
            ("date", _date(date)),
            ("post_ref", post_ref),
            ("parent_ref", parent_ref),
        ):
            if v is not None:
                op[k] = v
        return op

    async def create_comment(self, post_id: int, content: str = "A comment.", **kw: Any):
        """A comment (approved by default; type "pingback" for a pingback)."""
        return CreatedComment(**await self.run(**self.comment_op(post_id, content, **kw)))

    async def create_comments(self, ops: Sequence[dict[str, Any]]) -> list[CreatedComment]:
        """Many comments in one PHP run: ops made with WordPress.comment_op(...)."""
        return [CreatedComment(**r) for r in await self.batch(ops)]

    async def edit_comment(
        self,
        comment_id: int,
        *,
        content: str | None = None,
        approved: bool | str | None = None,
        author: str | None = None,
    ) -> None:
        args: dict[str, Any] = {"id": comment_id}
        for k, v in (("content", content), ("approved", approved), ("author", author)):
            if v is not None:
                args[k] = v
        await self.run("edit-comment", **args)

    async def delete_comment(self, comment_id: int) -> None:
        await self.run("delete-comment", id=comment_id)

    async def set_comment_status(self, comment_id: int, status: str) -> None:
        """As the moderation screen does: "approve", "hold" (unapprove), "spam" or "trash"."""
        await self.run("comment-status", id=comment_id, status=status)

    async def trash_comment(self, comment_id: int) -> None:
        await self.set_comment_status(comment_id, "trash")

    async def unapprove_comment(self, comment_id: int) -> None:
        await self.set_comment_status(comment_id, "hold")

    async def spam_comment(self, comment_id: int) -> None:
        await self.set_comment_status(comment_id, "spam")

    async def approve_comment(self, comment_id: int) -> None:
        await self.set_comment_status(comment_id, "approve")

    async def edit_post(
        self, post_id: int, *, title: str | None = None, content: str | None = None
    ) -> CreatedPost:
        args: dict[str, Any] = {"id": post_id}
        if title is not None:
            args["title"] = title
        if content is not None:
            args["content"] = content
        return CreatedPost(**await self.run("edit-post", **args))

    async def delete_post(self, post_id: int) -> None:
        await self.run("delete-post", id=post_id)

    async def set_rest(self, mode: str | bool) -> None:
        """True/"on": as shipped; "error": 401 rest_disabled (links stay); False/"off": gone."""
        if mode is True:
            mode = "on"
        elif mode is False:
            mode = "off"
        await self.run("set-rest", mode=mode)

    async def set_websub_hub(self, hub: str | None) -> None:
        """Feeds advertise this WebSub hub and publishing tells it (as WebSub plugins do)."""
        await self.run("set-websub-hub", hub=hub or "")

    async def set_permalinks(self, structure: str) -> None:
        """ "pretty" (/%year%/%monthnum%/%postname%/), "plain" (?p=ID), or a structure."""
        await self.run("permalinks", structure=structure)

    async def reset(self) -> None:
        """Empty blog: no posts, comments, extra users or terms; REST on; pretty permalinks."""
        await self.run("reset")

    async def info(self) -> dict[str, Any]:
        return await self.run("info")

    async def create_user(
        self, login: str, *, role: str = "author", name: str | None = None
    ) -> int:
        """A user (display name `name`, else the login); returns its id."""
        args: dict[str, Any] = {"login": login, "role": role}
        if name is not None:
            args["name"] = name
        return (await self.run("create-user", **args))["id"]

    async def app_password(self, user_id: int, name: str = "Gazette") -> str:
        """A new application password of the user, as WordPress shows it (groups of four)."""
        return (await self.run("app-password", user=user_id, name=name))["password"]

    async def set_option(self, name: str, value: Any) -> None:
        """An option, e.g. comment_moderation 1 (`reset` restores those the tests change)."""
        await self.run("set-option", name=name, value=value)

    async def get_comment(self, comment_id: int) -> dict[str, Any]:
        """{"status": approved|hold|spam|trash|None, "author", "user_id", "parent", ...}"""
        return await self.run("get-comment", id=comment_id)

    async def trash_post(self, post_id: int) -> None:
        """Move the post to the trash (as the editor's "Move to Trash")."""
        await self.run("trash-post", id=post_id)


def _start_or_skip(state_dir: Path) -> WordPress:
    try:
        return WordPress.start(state_dir)
    except WordPressUnavailable as exc:
        if os.environ.get("GAZETTE_REQUIRE_WORDPRESS") == "1":
            pytest.fail(f"WordPress is required here but could not start: {exc}")
        pytest.skip(f"no WordPress: {exc}")


@pytest.fixture(scope="session")
def wordpress() -> Iterator[WordPress]:
    """A WordPress started once for the test session (fresh state dir, free port)."""
    # short path: MariaDB's unix socket path must stay under 108 bytes
    state = Path(tempfile.mkdtemp(prefix="gz-wp-"))
    try:
        wp = _start_or_skip(state)
    except BaseException:  # skipped or failed: leave nothing behind
        shutil.rmtree(state, ignore_errors=True)
        raise
    try:
        yield wp
    finally:
        wp.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
async def wp_blog(wordpress: WordPress) -> WordPress:
    """The session's WordPress, emptied for this test (REST on, pretty permalinks)."""
    await wordpress.reset()
    return wordpress


__all__ = [
    "CreatedComment",
    "CreatedPost",
    "WordPress",
    "WordPressUnavailable",
    "wordpress",
    "wp_blog",
]
