"""Crash test: `python -m bot` killed with SIGKILL at random moments while a blog streams posts
and comments into a text, an announcement and a forum channel. Afterwards every post is
announced once in each channel, with one thread (one forum post in the forum), announcements
are published, and every approved comment is mirrored once into each of its discussions;
nothing else is sent.

The fake Discord and the WordPress-like blog live in this process and keep their state across
the bot's lives; the bot is a real subprocess with its own database file, set up with
`/feed add` over the wire. Each life ends with SIGKILL at a moment chosen by a seeded RNG:

* `random`: some seconds after the start (start-up, gateway, polling, sending);
* `held`: the k-th write of a kind (any, announcement, thread, publishing, forum post,
  comment) is carried out by Discord, its answer held, and the bot killed while it waits;
* `after`: a few milliseconds after such a write was answered (the bot heard back and may or
  may not have recorded it);
* `dropped`: while sending such a write, which never reaches Discord.

Some comments wait for moderation and are approved later, so they come after newer ones.

Time runs faster than the bot's clocks: its loops tick every 15 s and a life lasts seconds,
so before each start the test makes the feed and the followed posts' comments due, as the
poll interval and the comment schedule would later. The blog publishes no faster than the bot
reads (its feed shows the newest 10). The last lives are left alone (stopped with SIGTERM once
quiet) until everything published has been delivered, and once more to see nothing repeated.
The run happens once; a test per kind of item reads its outcome. CRASH_KILLS (default 50) and
CRASH_SEED (default: random, printed) reproduce a run: the seed fixes the kill plan and what
the blog publishes, not the bot's timing.

Below, single deliberate crashes at the places the run found (or cannot reach reliably).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.store import Store
from tests.discussion_helpers import WPBlog, WPComment, WPPost, history_imported
from tests.fakediscord import DISCORD_EPOCH_MS, ChannelType, FakeDiscord, Stall
from tests.httpserver import LocalSite

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("CRASH_KILLS", "50"))
#: Writes that change what readers see: messages, threads, forum posts, webhook messages,
#: crossposts, webhooks. Killing around them is what can lose or double something.
WRITE = re.compile(
    r"/channels/\d+/(messages(/\d+/(threads|crosspost))?|threads|webhooks)|/webhooks/\d+/[^/]+"
)
READY_LINE = "ready as"
# what went wrong, by kind: each kind is checked by its own test below
ANNOUNCEMENT = "announcements and threads in the text and announcement channels"
PUBLISHED = "announcements published in the announcement channel"
FORUM = "forum posts"
COMMENT = "comments in every discussion"
Problem = tuple[str, str]  # (kind, what)


def write_kind(request, run: CrashRun) -> str:
    """What a write request does, in words (for the kill descriptions)."""
    parts = request.path.strip("/").split("/")
    if parts[0] == "webhooks":
        return "comment via webhook"
    channel = int(parts[1])
    if parts[-1] == "threads":
        return "forum post" if channel == run.forum else "thread"
    if parts[-1] == "crosspost":
        return "publishing"
    if parts[-1] == "webhooks":
        return "webhook creation"
    return "announcement" if channel in (run.text, run.news) else "comment as embed"


@dataclass
class Life:
    number: int
    plan: str
    log: Path
    first_request: int  # index into fake.requests of the life's first request
    started: float = field(default_factory=time.time)
    outcome: str = ""
    hit: str | None = None  # what the write the kill waited for did

    def describe(self) -> str:
        return f"life {self.number} ({self.plan}; {self.outcome})"


class CrashRun:
    """The world of the test: fake Discord, blog, the bot's lives, and what each did."""

    def __init__(self, fake: FakeDiscord, blog: WPBlog, workdir: Path, rng: random.Random):
        self.fake = fake
        self.blog = blog
        self.workdir = workdir
        self.db_path = workdir / "gazette.sqlite3"
        self.rng = rng
        self.guild = fake.add_guild("Readers")
        self.text = fake.add_channel(self.guild, "blog", type=ChannelType.TEXT)
        self.news = fake.add_channel(self.guild, "news", type=ChannelType.NEWS)
        self.forum = fake.add_channel(self.guild, "articles", type=ChannelType.FORUM)
        self.lives: list[Life] = []
        self.comments_written = 0
        self.in_moderation: list[WPComment] = []  # comments written, not approved yet
        self.history: set[int] = set()  # posts there before `/feed add`: owed to nobody
        self.stored_posts = 0  # posts in the bot's database when last looked
        self.followed: set[int] = set()  # channels where the blog is announced
        self.proc: asyncio.subprocess.Process | None = None

    # --- the bot's lives --------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": self.fake.token,
            "DISCORD_API_BASE": self.fake.api_base,
            "DISCORD_GATEWAY_URL": self.fake.gateway_url,
            "DATABASE_PATH": str(self.db_path),
            "COMMAND_GUILD_ID": str(self.guild),
            "ALLOW_PRIVATE_FEEDS": "true",
            "POLL_INTERVAL": "10",
            "LOG_LEVEL": "INFO",
        }

    async def start(self, plan: str) -> Life:
        life = Life(
            len(self.lives),
            plan,
            self.workdir / f"life-{len(self.lives):03d}.log",
            first_request=len(self.fake.requests),
        )
        self.lives.append(life)
        with open(life.log, "wb") as log:  # noqa: ASYNC230 (a local file, created at once)
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=self.workdir,
                env=self.env(),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        return life

    def log_text(self, life: Life) -> str:
        return life.log.read_text(errors="replace")

    async def wait_ready(self, life: Life, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while READY_LINE not in self.log_text(life):
            if self.proc.returncode is not None:
                raise AssertionError(f"the bot exited in {life.describe()}:\n{self.log_text(life)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot was not ready in {life.describe()}")
            await asyncio.sleep(0.05)

    async def end(self, life: Life, sig: signal.Signals) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), 15)
        expected = -signal.SIGKILL if sig == signal.SIGKILL else 0
        if code != expected:
            raise AssertionError(
                f"the bot ended by itself (exit {code}) in {life.describe()}:\n"
                + self.log_text(life)[-3000:]
            )
        life.outcome = "killed" if sig == signal.SIGKILL else "stopped"

    def writes(self, life: Life) -> list:
        return [
            r
            for r in self.fake.requests[life.first_request :]
            if r.method == "POST" and WRITE.fullmatch(r.path)
        ]

    async def make_due(self, *, retry_failed: bool = False) -> None:
        """What time would do between two lives: the feed and the comments are due again."""
        store = await Store.open(self.db_path)
        try:
            for sub in await store.guild_subscriptions(self.guild):
                await store._write(
                    "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (sub.feed_id,)
                )
                self.stored_posts = await store.count_posts(sub.feed_id)
                if retry_failed:
                    await store.retry_subscription_now(sub.id)
            await store.schedule_comment_checks(0)
        finally:
            await store.close()

    def long_outage(self) -> None:
        """An hour between two lives: Discord no longer dedups a resend by its nonce, and
        the deliveries begun before the kill began an hour ago (so the bot reads the channel
        back instead of trusting the nonce)."""
        self.fake.forget_nonces()
        with sqlite3.connect(self.db_path) as db:
            db.execute("UPDATE deliveries SET started_at = started_at - 3600")

    # --- the blog's stream ------------------------------------------------------------

    def publish_post(self) -> WPPost:
        return self.blog.publish(f"Article {len(self.blog.posts) + 1}")

    def publish_comment(self, rng: random.Random | None = None) -> None:
        rng = rng or self.rng
        # comments go to recent articles
        posts = [p for p in self.blog.posts.values() if p.id not in self.history][-6:]
        if not posts:
            return
        post = rng.choice(posts)
        earlier = self.blog.approved(post.id)
        parent = rng.choice(earlier) if earlier and rng.random() < 0.3 else None
        self.comments_written += 1
        author = f"Reader {self.comments_written}"
        # some wait for moderation: approved later, they come after newer ones
        approved = rng.random() > 0.15
        comment = self.blog.comment(
            post,
            f"<p>{author} thinks about {post.title}.</p>",
            author=author,
            parent=parent,
            approved=approved,
        )
        if not approved:
            self.in_moderation.append(comment)

    def approve(self, rng: random.Random) -> None:
        if self.in_moderation:
            self.in_moderation.pop(rng.randrange(len(self.in_moderation))).approved = True

    def room_for_a_post(self) -> bool:
        """The feed shows the newest 10 posts: a blog publishing faster than a crash-looping
        bot reads would push posts out of it before they were ever seen, which no bot can
        help. The blog waits while 8 posts are unread."""
        return len(self.blog.posts) - self.stored_posts < 8

    def stream(self) -> None:
        """What the blog publishes between two lives."""
        if self.rng.random() < 0.5 and self.room_for_a_post():
            self.publish_post()
        for _ in range(self.rng.randint(0, 3)):
            self.publish_comment()
        if self.rng.random() < 0.3:
            self.approve(self.rng)

    # --- one life ending in SIGKILL ---------------------------------------------------

    def targets(self) -> dict[str, str]:
        """The writes a kill can wait for, by what they do."""
        posts_in = f"({self.text}|{self.news})"
        return {
            "any write": WRITE.pattern,
            "comment via webhook": r"/webhooks/\d+/[^/]+",
            "announcement": rf"/channels/{posts_in}/messages",
            "thread": rf"/channels/{posts_in}/messages/\d+/threads",
            "forum post": rf"/channels/{self.forum}/threads",
            "publishing": rf"/channels/{self.news}/messages/\d+/crosspost",
        }

    async def life_killed(self) -> None:
        mode = self.rng.choices(["random", "held", "after", "dropped"], [20, 30, 30, 20])[0]
        target = self.rng.choices(list(self.targets()), weights=[30, 30, 10, 10, 10, 10])[0]
        k = self.rng.randint(1, 6 if target == "any write" else 2)
        delay = self.rng.uniform(0.2, 4.0)
        jitter = self.rng.uniform(0.0, 0.015)
        midlife = self.rng.uniform(0.0, 4.0)  # the blog publishes while the bot runs, too
        # its own draws, so that whether it ran before the kill changes nothing else
        midlife_rng = random.Random(self.rng.random())
        plan = {
            "random": f"killed {delay:.2f}s after start",
            "held": f"killed while {target} {k} was answered late",
            "dropped": f"killed while sending {target} {k}",
            "after": f"killed {jitter * 1000:.0f}ms after {target} {k}",
        }[mode]
        self.stream()
        await self.make_due()
        pattern = re.compile(self.targets()[target])
        stall: Stall | None = None
        if mode in ("held", "dropped"):
            stall = self.fake.stall("POST", pattern.pattern, skip=k - 1, carry_out=mode == "held")
        life = await self.start(plan)
        publisher = asyncio.create_task(self._publish_later(midlife, midlife_rng))
        try:
            if mode == "random":
                await asyncio.sleep(delay)
            else:
                await self._until_write(life, pattern, k, jitter, stall)
            await self.end(life, signal.SIGKILL)
        finally:
            publisher.cancel()
            if stall is not None:
                stall.remaining = 0
                stall.release.set()

    async def _until_write(
        self, life: Life, pattern: re.Pattern, k: int, jitter: float, stall: Stall | None
    ) -> None:
        """Until the life's k-th write matching `pattern` is held by `stall`, or was answered
        `jitter` s ago; a life that makes no such write is killed 1 s after it is ready."""
        deadline, next_look = time.monotonic() + 30, 0.0
        while True:
            writes = [w for w in self.writes(life) if pattern.fullmatch(w.path)]
            if len(writes) >= k and (stall.reached.is_set() if stall else writes[k - 1].status):
                break
            now = time.monotonic()
            if now > deadline:
                life.plan += " (no such write: killed 1s after ready)"
                return
            if now >= next_look and deadline - now > 1.0:  # ready yet? (its log, now and then)
                next_look = now + 0.05
                if READY_LINE in self.log_text(life):
                    deadline = now + 1.0
            await asyncio.sleep(0.002)  # the fake has no event for "answered"
        if stall is None:
            await asyncio.sleep(jitter)
        life.hit = write_kind(writes[k - 1], self)
        life.plan += f": {life.hit}"

    async def _publish_later(self, delay: float, rng: random.Random) -> None:
        await asyncio.sleep(delay)
        if rng.random() < 0.7 or not self.room_for_a_post():
            self.publish_comment(rng)
        else:
            self.publish_post()

    # --- the last lives: left alone until everything is delivered ---------------------

    async def life_calm(self) -> int:
        """A life left alone until quiet; returns how many writes it made."""
        await self.make_due(retry_failed=True)
        life = await self.start("left alone, stopped with SIGTERM once quiet")
        await self.wait_ready(life)
        quiet_since, seen = time.monotonic(), 0
        while time.monotonic() - quiet_since < 2.0:
            await asyncio.sleep(0.1)
            if len(self.writes(life)) != seen:
                quiet_since, seen = time.monotonic(), len(self.writes(life))
        await self.end(life, signal.SIGTERM)
        return seen

    async def killed_at(self, path_regex: str, *, carry_out: bool) -> None:
        """A life killed at its first POST to `path_regex`, which Discord carried out (its
        answer never came back) or never received."""
        await self.make_due()
        stall = self.fake.stall("POST", path_regex, carry_out=carry_out)
        done = "carried out" if carry_out else "never received"
        life = await self.start(f"killed at POST {path_regex} ({done})")
        await asyncio.wait_for(stall.reached.wait(), 30)
        await self.end(life, signal.SIGKILL)
        stall.release.set()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    # --- the whole run --------------------------------------------------------------

    async def set_up(self, *channels: int) -> None:
        """Follow the blog in the channels with `/feed add`, as an admin would."""
        self.publish_post()  # history: stored by `/feed add`, never announced
        life = await self.start("set-up with /feed add, stopped with SIGTERM")
        await self.wait_ready(life)
        for channel in channels:
            result = await self.fake.invoke(
                self.guild, self.text, "feed add", {"url": self.blog.feed_url, "channel": channel}
            )
            await history_imported(result)
        await self.end(life, signal.SIGTERM)
        self.history = set(self.blog.posts)
        self.followed = set(channels)

    async def crash_loop(self) -> None:
        await self.set_up(self.text, self.news, self.forum)
        for _ in range(KILLS):
            await self.life_killed()
        while self.in_moderation:
            self.approve(self.rng)
        # a post without comments gets its thread only when one arrives (the test of a
        # crash before the thread, below): every post gets one, so that each has its thread
        for post in self.blog.posts.values():
            if post.id not in self.history and not self.blog.approved(post.id):
                self.blog.comment(post, "<p>Late but first.</p>", author="Latecomer")

        # left alone until nothing is missing, or nothing more comes; then once more, which
        # must send nothing again
        idle = 0
        for _ in range(8):
            idle = idle + 1 if await self.life_calm() == 0 else 0
            if idle == 2 or not [what for _, what in self.audit() if what.endswith(": lost")]:
                break
        await self.life_calm()

    # --- what Discord shows -----------------------------------------------------------

    def life_of(self, message_id: int | str) -> str:
        """The life a message was created in (by its snowflake's time)."""
        at = ((int(message_id) >> 22) + DISCORD_EPOCH_MS) / 1000
        for life in reversed(self.lives):
            if life.started - 0.01 <= at:
                return life.describe()
        return "before the first life"

    def _message_post(self, message: dict) -> str | None:
        links = {self.blog.link(p): p.title for p in self.blog.posts.values()}  # history too
        embeds = message.get("embeds") or []
        return links.get(embeds[0].get("url")) if embeds else None

    def _commenter(self, message: dict) -> str:
        if message.get("webhook_id"):
            return message["author"]["username"]
        embeds = message.get("embeds") or [{}]
        return (embeds[0].get("author") or {}).get("name", "?")

    def audit(self) -> list[Problem]:
        """Every way Discord differs from "each item exactly once"; empty when it holds."""
        problems: list[Problem] = []
        owed = [p for p in self.blog.posts.values() if p.id not in self.history]
        titles = [p.title for p in owed]
        expected_comments = {p.title: {c.author for c in self.blog.approved(p.id)} for p in owed}
        bot = str(self.fake.bot_user_id)
        for name, channel in (("#blog", self.text), ("#news", self.news)):
            if channel not in self.followed:
                continue
            announced: dict[str, list[dict]] = defaultdict(list)
            for message in self.fake.messages(channel):
                title = self._message_post(message)
                if title is None or message["author"]["id"] != bot:
                    problems.append(
                        (
                            ANNOUNCEMENT,
                            f"{name}: unexpected message {message['id']} "
                            f"{message['content'][:80]!r} from {self.life_of(message['id'])}",
                        )
                    )
                    continue
                announced[title].append(message)
            threads = {int(t["id"]): t for t in self.fake.threads(channel)}
            for title in titles:
                copies = announced.get(title, [])
                self._count(problems, ANNOUNCEMENT, f"{name}: announcement of {title!r}", copies)
                if channel == self.news:
                    for message in copies:
                        if not self.fake.is_published(int(message["id"])):
                            problems.append(
                                (
                                    PUBLISHED,
                                    f"{name}: announcement of {title!r} never published "
                                    f"(made in {self.life_of(message['id'])})",
                                )
                            )
                on_post = [threads.pop(int(m["id"])) for m in copies if int(m["id"]) in threads]
                self._count(problems, ANNOUNCEMENT, f"{name}: thread of {title!r}", on_post)
                self._comments(problems, name, title, on_post, expected_comments[title])
            for thread in threads.values():
                problems.append(
                    (ANNOUNCEMENT, f"{name}: unexpected thread {thread['name']!r} ({thread['id']})")
                )

        if self.forum not in self.followed:
            return problems
        posts_in_forum: dict[str, list[dict]] = defaultdict(list)
        for thread in self.fake.threads(self.forum):
            title = self._message_post(self.fake.message(int(thread["id"])))
            if title is None:
                problems.append((FORUM, f"#articles: unexpected forum post {thread['name']!r}"))
            else:
                posts_in_forum[title].append(thread)
        for title in titles:
            copies = posts_in_forum.get(title, [])
            self._count(problems, FORUM, f"#articles: forum post of {title!r}", copies)
            self._comments(problems, "#articles", title, copies, expected_comments[title])
        return problems

    def _count(self, problems: list[Problem], kind: str, what: str, copies: list[dict]) -> None:
        if not copies:
            problems.append((kind, f"{what}: lost"))
        elif len(copies) > 1:
            made = "; ".join(f"{c['id']} in {self.life_of(c['id'])}" for c in copies)
            problems.append((kind, f"{what}: {len(copies)} times ({made})"))

    def _comments(self, problems, name: str, title: str, threads, expected: set[str]) -> None:
        """The post's comments across its threads in one channel: each exactly once."""
        if not threads:
            return  # the thread itself is already reported lost
        bot = str(self.fake.bot_user_id)
        shown: dict[str, list[dict]] = defaultdict(list)
        for thread in threads:
            for message in self.fake.messages(int(thread["id"])):
                if message["id"] == thread["id"]:  # a forum post's own first message
                    continue
                if message.get("webhook_id") or message["author"]["id"] == bot:
                    shown[self._commenter(message)].append(message)  # not people talking
        for author in sorted(expected | set(shown), key=lambda a: (len(a), a)):
            what = f"{name}: comment by {author} on {title!r}"
            if author not in expected:
                problems.append((COMMENT, f"{what}: not a comment of this post"))
            else:
                self._count(problems, COMMENT, what, shown.get(author, []))

    def database_notes(self) -> str:
        """What the bot's outbox says about items not delivered (for failure messages)."""
        with sqlite3.connect(self.db_path) as db:
            rows = db.execute(
                "SELECT p.title, s.channel_id, d.state, d.attempts, d.last_error, d.thread_id"
                " FROM deliveries d JOIN posts p ON p.id = d.post_id"
                " JOIN subscriptions s ON s.id = d.subscription_id"
                " WHERE d.state != 'sent' OR d.last_error IS NOT NULL OR d.thread_id IS NULL"
            ).fetchall()
            failing = db.execute(
                "SELECT p.title, s.channel_id, d.thread_id, d.last_error FROM discussions d"
                " JOIN posts p ON p.id = d.post_id"
                " JOIN subscriptions s ON s.id = d.subscription_id"
                " WHERE d.last_error IS NOT NULL OR d.state != 'open'"
                " OR d.mirror_due_at IS NOT NULL"
            ).fetchall()
        lines = [f"delivery {row}" for row in rows] + [f"discussion {row}" for row in failing]
        return "\n".join(lines) or "(the outbox has nothing pending)"


@dataclass
class Outcome:
    seed: int
    kills: int
    summary: str
    problems: list[Problem]
    lives: str
    outbox: str
    fake_problems: str
    logged_errors: list[str]

    def check(self, kind: str) -> None:
        found = [what for k, what in self.problems if k == kind]
        assert not found, (
            f"CRASH_SEED={self.seed}: {self.summary}\n"
            + "\n".join(found)
            + f"\n\nthe lives:\n{self.lives}\n\nthe bot's outbox:\n{self.outbox}"
        )


async def crash_and_audit(workdir: Path, seed: int) -> Outcome:
    started = time.monotonic()
    fake = FakeDiscord()
    async with LocalSite() as site:
        run = CrashRun(fake, WPBlog(site), workdir, random.Random(seed))
        await fake.start()
        try:
            await run.crash_loop()
        finally:
            await run.stop()
            await fake.stop()
    killed = sum(life.outcome == "killed" for life in run.lives)
    owed = [p for p in run.blog.posts if p not in run.history]
    hits = Counter(life.hit for life in run.lives if life.hit)
    summary = (
        f"{killed} kills in {len(run.lives)} lives, {time.monotonic() - started:.0f}s "
        f"(kills around writes: {', '.join(f'{n} {kind}' for kind, n in hits.most_common())}); "
        f"{len(owed)} posts and {sum(len(run.blog.approved(p)) for p in owed)} comments "
        f"published, {len(fake.requests)} requests to Discord"
    )
    fake_problems = ""
    try:
        fake.assert_clean()
    except AssertionError as exc:
        fake_problems = str(exc)
    return Outcome(
        seed,
        killed,
        summary,
        run.audit(),
        "\n".join(f"  {life.describe()}" for life in run.lives),
        run.database_notes(),
        fake_problems,
        [
            f"{life.describe()}: {line}"
            for life in run.lives
            for line in run.log_text(life).splitlines()
            if " ERROR " in line or line.startswith("Traceback")
        ],
    )


@pytest.fixture(scope="module")
def crash(tmp_path_factory) -> Outcome:
    """One crash run shared by the tests below (it takes minutes); they read its outcome."""
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(1 << 32))
    workdir = tmp_path_factory.mktemp("crash")
    print(f"\ncrash test: CRASH_SEED={seed} CRASH_KILLS={KILLS}, logs in {workdir}")
    outcome = asyncio.run(crash_and_audit(workdir, seed))
    print(outcome.summary)
    return outcome


def test_the_bot_was_killed_as_often_as_asked_and_nothing_unexpected_happened(crash):
    assert crash.kills >= KILLS, crash.summary
    assert not crash.fake_problems, crash.fake_problems
    assert not crash.logged_errors, "\n".join(crash.logged_errors)  # restarts are ordinary


def test_each_post_is_announced_once_with_one_thread_in_text_and_announcement_channels(crash):
    crash.check(ANNOUNCEMENT)


def test_each_announcement_is_published_in_the_announcement_channel(crash):
    crash.check(PUBLISHED)


def test_each_post_is_one_forum_post(crash):
    crash.check(FORUM)


def test_each_comment_is_mirrored_once_into_each_discussion(crash):
    crash.check(COMMENT)


# ============================================================ single crashes, on purpose


@pytest.fixture
async def small_run(tmp_path):
    """The crash test's world, for one deliberate crash: the fake Discord keeps its state."""
    fake = FakeDiscord()
    async with LocalSite() as site:
        run = CrashRun(fake, WPBlog(site), tmp_path, random.Random(0))
        await fake.start()
        try:
            yield run
        finally:
            await run.stop()
            await fake.stop()
    fake.assert_clean()


def problems_of(run: CrashRun, kind: str) -> str:
    return "\n".join(what for k, what in run.audit() if k == kind)


async def test_an_announcement_sent_before_a_long_outage_is_not_sent_again(small_run):
    run = small_run
    await run.set_up(run.text)
    run.publish_post()
    await run.killed_at(rf"/channels/{run.text}/messages", carry_out=True)
    run.long_outage()  # the bot stayed down longer than Discord remembers nonces
    await run.life_calm()
    assert not problems_of(run, ANNOUNCEMENT)


async def test_a_crash_before_publishing_still_publishes(small_run):
    run = small_run
    await run.set_up(run.news)
    run.publish_post()
    await run.killed_at(rf"/channels/{run.news}/messages/\d+/crosspost", carry_out=False)
    await run.life_calm()
    assert not problems_of(run, PUBLISHED)
    assert not problems_of(run, ANNOUNCEMENT)


async def test_a_crash_before_the_thread_still_opens_it(small_run):
    run = small_run
    await run.set_up(run.text)
    run.publish_post()
    await run.killed_at(rf"/channels/{run.text}/messages/\d+/threads", carry_out=False)
    await run.life_calm()
    assert not problems_of(run, ANNOUNCEMENT)


async def test_a_crash_after_creating_a_forum_post_does_not_post_it_again(small_run):
    run = small_run
    await run.set_up(run.forum)
    run.publish_post()
    await run.killed_at(rf"/channels/{run.forum}/threads", carry_out=True)
    await run.life_calm()
    assert not problems_of(run, FORUM)


async def announced_with_comments(run: CrashRun, count: int, *, first_waits: bool = False):
    """A post announced in #blog with `count` comments mirrored into its thread; with
    `first_waits` the first comment is held for moderation. Returns (post, first comment)."""
    await run.set_up(run.text)
    post = run.publish_post()
    first = run.blog.comment(post, "<p>First.</p>", author="Reader 1", approved=not first_waits)
    for n in range(2, count + 1):
        run.blog.comment(post, f"<p>Comment {n}.</p>", author=f"Reader {n}")
    await run.life_calm()  # announced, its thread opened
    await run.life_calm()  # its comments read and mirrored
    assert not problems_of(run, COMMENT) and not problems_of(run, ANNOUNCEMENT)
    return post, first


async def test_a_comment_cut_short_by_a_crash_is_not_taken_for_another(small_run):
    run = small_run
    post, first = await announced_with_comments(run, 12, first_waits=True)
    first.approved = True  # approved late: mirrored after #comment-12
    await run.killed_at(r"/webhooks/\d+/[^/]+", carry_out=False)
    await run.life_calm()
    assert not problems_of(run, COMMENT)


async def test_a_comment_cut_short_by_a_crash_is_found_behind_60_messages(small_run):
    run = small_run
    post, _ = await announced_with_comments(run, 1)
    run.blog.comment(post, "<p>Sent as the bot was killed.</p>", author="Reader 2")
    await run.killed_at(r"/webhooks/\d+/[^/]+", carry_out=True)
    [thread] = run.fake.threads(run.text)
    for n in range(60):  # readers talk in the thread while the bot is down
        run.fake.post_user_message(int(thread["id"]), f"chat {n}")
    await run.life_calm()
    assert not problems_of(run, COMMENT)
