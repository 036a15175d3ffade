"""Filters per subscription: which new posts a channel announces (no Discord, no SQL).

A subscription may list categories (or tags), authors and words to announce only, or to
skip. An "only" list passes a post carrying ANY of its entries; a "skip" list drops a post
carrying ANY of its entries; every list given must agree (AND). Names (categories, tags,
authors) are whole names compared without case and accents; words are matched in the title
and text the way `/archive search` matches them (the archive's own tokenizer: whole words,
case, accents and word endings ignored, an entry of several words a phrase), through a
`has_words` function the store provides (bot/store/words.py).

A spec is stored as JSON; `compiled()` turns it into sets once and caches the result, so a
poll cycle evaluating a thousand subscriptions compiles nothing twice.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields

from .errors import UserError
from .render.markdown import inline_markdown
from .search import MAX_PHRASE_WORDS, fold, phrase_of
from .text import clean_text, squash_spaces

MAX_ENTRIES = 20  # per list
MAX_ENTRY_CHARS = 100  # per entry
CLEAR_WORDS = frozenset({"none", "-"})  # given as a list: empty that list

#: Each list: (option name, what it does, for answers and errors)
KINDS = {
    "categories": "only in categories or tags",
    "skip_categories": "skip categories or tags",
    "authors": "only by authors",
    "skip_authors": "skip authors",
    "words": "only with words",
    "skip_words": "skip words",
}


@dataclass(frozen=True, slots=True)
class Filters:
    """A subscription's filters as the admin wrote them (each list: entries as typed)."""

    categories: tuple[str, ...] = ()
    skip_categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    skip_authors: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    skip_words: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(getattr(self, kind) for kind in KINDS)

    def to_json(self) -> str | None:
        """The stored form; None when there is nothing to filter."""
        if self.empty:
            return None
        return json.dumps(
            {k: list(v) for k, v in asdict(self).items() if v}, ensure_ascii=False, sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str | None) -> Filters:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(**{f.name: tuple(data.get(f.name, ())) for f in fields(cls)})

    def lines(self) -> list[str]:
        """One plain line per list given: 'skip words: "foo", "bar"'."""
        return [
            f"{KINDS[kind]}: " + ", ".join(f"“{entry}”" for entry in getattr(self, kind))
            for kind in KINDS
            if getattr(self, kind)
        ]


@functools.lru_cache(maxsize=4096)  # a blog's categories and authors come back post after post
def name_key(name: str) -> str:
    """A category, tag or author as compared: case, accents and spacing aside."""
    return " ".join(fold(name).split())


def _shown(entry: str) -> str:
    """An entry quoted in an error: escaped, short."""
    return inline_markdown(entry, 40)


def parse_entries(kind: str, text: str) -> tuple[str, ...]:
    """One option's comma-separated entries, checked; UserError says what is wrong.
    "none" (or "-") empties the list."""
    text = clean_text(text or "")
    if text.strip().casefold() in CLEAR_WORDS:
        return ()
    label = f"`{kind}`"  # the option they typed it in
    entries: list[str] = []
    seen: set[str] = set()
    for raw in text.replace("\n", ",").split(","):
        entry = squash_spaces(raw)
        if not entry:
            continue
        if len(entry) > MAX_ENTRY_CHARS:
            raise UserError(
                f"“{_shown(entry)}” is too long in {label}: at most {MAX_ENTRY_CHARS} characters"
                " an entry."
            )
        if kind.endswith("words"):
            key = phrase_of(entry)
            if not key:
                raise UserError(
                    f"“{_shown(entry)}” in {label} has no letters or digits to look for: words are"
                    " matched like `/archive search`, punctuation and emoji are ignored."
                )
            if len(entry.split()) > MAX_PHRASE_WORDS:
                raise UserError(
                    f"“{_shown(entry)}” is too long in {label}: at most {MAX_PHRASE_WORDS} words"
                    " an entry."
                )
        else:
            key = name_key(entry)
            if not key:
                raise UserError(f"“{_shown(entry)}” in {label} is not a name.")
        if key not in seen:
            seen.add(key)
            entries.append(entry)
    if not entries:
        raise UserError(
            f"No entries in {label}: separate them with commas, or write `none` to empty it."
        )
    if len(entries) > MAX_ENTRIES:
        raise UserError(
            f"Too many entries in {label}: at most {MAX_ENTRIES} (you gave {len(entries)})."
        )
    return tuple(entries)


def updated(current: Filters, given: dict[str, str | None]) -> Filters:
    """`current` with each list given (option name -> its text) replaced."""
    changes = {kind: parse_entries(kind, text) for kind, text in given.items() if text is not None}
    return Filters(**{kind: changes.get(kind, getattr(current, kind)) for kind in KINDS})


# --- compiled: what is evaluated for every new post ---------------------------------------


@dataclass(frozen=True, slots=True)
class Compiled:
    categories: dict[str, str]  # key -> as written
    skip_categories: dict[str, str]
    authors: dict[str, str]
    skip_authors: dict[str, str]
    words: tuple[tuple[str, str], ...]  # (as written, FTS5 phrase)
    skip_words: tuple[tuple[str, str], ...]
    # each list's phrases in one FTS5 query ("a" OR "b"): one question a post when only the
    # outcome matters
    any_word: str = ""
    any_skip_word: str = ""

    @property
    def needs_words(self) -> bool:
        return bool(self.words or self.skip_words)


@functools.lru_cache(maxsize=8192)
def compiled(spec: str | None) -> Compiled | None:
    """The stored spec ready to evaluate (None: no filters, every post passes); cached by
    its text, which is all a subscription's filters are."""
    filters = Filters.from_json(spec)
    if filters.empty:
        return None

    def names(entries: Iterable[str]) -> dict[str, str]:
        return {name_key(e): e for e in entries}

    def phrases(entries: Iterable[str]) -> tuple[tuple[str, str], ...]:
        return tuple((e, p) for e in entries if (p := phrase_of(e)))

    words, skip_words = phrases(filters.words), phrases(filters.skip_words)
    return Compiled(
        names(filters.categories),
        names(filters.skip_categories),
        names(filters.authors),
        names(filters.skip_authors),
        words,
        skip_words,
        " OR ".join(p for _, p in words),
        " OR ".join(p for _, p in skip_words),
    )


@dataclass(slots=True)
class PostFacts:
    """What filters look at in one post."""

    topics: dict[str, str]  # its categories and tags: key -> as on the post
    author_key: str
    author: str
    #: FTS5 query (a phrase, or phrases joined by OR) -> whether the title or text has it
    #: (called only when a word filter is reached, so a post is indexed for words only when
    #: some filter needs it)
    has_words: Callable[[str], bool]


def post_facts(
    author: str | None,
    categories: Iterable[str],
    tags: Iterable[str],
    has_words: Callable[[str], bool],
) -> PostFacts:
    topics: dict[str, str] = {}
    for name in (*categories, *tags):
        topics.setdefault(name_key(name), name)
    author = squash_spaces(author)
    return PostFacts(topics, name_key(author), author, has_words)


@dataclass(slots=True)
class Verdict:
    passed: bool
    reasons: list[str]  # plain text, one per list the post was checked against, in order


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"“{name}”" for name in names)


def _rules(rules: Compiled, post: PostFacts, explain: bool) -> Iterator[tuple[bool, str]]:
    """(passed, why) for each list given, names before words (cheaper); a caller that only
    needs the outcome stops at the first failure, and without `explain` asks about each list
    of words at once (why is then '')."""
    yield from _name_rules(rules, post)
    yield from _word_rules(rules, post, explain)


def _name_rules(rules: Compiled, post: PostFacts) -> Iterator[tuple[bool, str]]:
    if rules.categories:
        hits = [post.topics[k] for k in rules.categories.keys() & post.topics.keys()]
        if hits:
            yield True, f"in {_quoted(hits)}, a category announced"
        else:
            listed = _quoted(rules.categories.values())
            yield False, f"in none of the categories announced ({listed})"
    if rules.skip_categories:
        hits = [post.topics[k] for k in rules.skip_categories.keys() & post.topics.keys()]
        if hits:
            yield False, f"in {_quoted(hits)}, a category skipped"
        else:
            yield True, "in no category skipped"
    if rules.authors:
        if post.author_key in rules.authors:
            yield True, f"by “{post.author}”, an author announced"
        else:
            by = f"by “{post.author}”" if post.author else "without an author"
            yield False, f"{by}, not an author announced ({_quoted(rules.authors.values())})"
    if rules.skip_authors:
        if post.author_key in rules.skip_authors:
            yield False, f"by “{post.author}”, an author skipped"
        else:
            yield True, "by no author skipped"


def _word_rules(rules: Compiled, post: PostFacts, explain: bool) -> Iterator[tuple[bool, str]]:
    if not explain:
        if rules.words:
            yield post.has_words(rules.any_word), ""
        if rules.skip_words:
            yield not post.has_words(rules.any_skip_word), ""
        return
    if rules.words:
        found = next((entry for entry, phrase in rules.words if post.has_words(phrase)), None)
        if found is not None:
            yield True, f"has “{found}”, a word announced"
        else:
            yield False, f"has none of the words announced ({_quoted(e for e, _ in rules.words)})"
    if rules.skip_words:
        found = next((entry for entry, phrase in rules.skip_words if post.has_words(phrase)), None)
        if found is not None:
            yield False, f"has “{found}”, a word skipped"
        else:
            yield True, "has no word skipped"


def passes(rules: Compiled | None, post: PostFacts) -> bool:
    """Whether the post is announced (the fast path: stops at the first list that drops it)."""
    return rules is None or all(ok for ok, _ in _rules(rules, post, False))


def judge(rules: Compiled | None, post: PostFacts) -> Verdict:
    """Whether the post is announced, and why: every list's outcome (for `/feed test`)."""
    if rules is None:
        return Verdict(True, ["no filters: every new post is announced"])
    outcomes = list(_rules(rules, post, True))
    return Verdict(all(ok for ok, _ in outcomes), [why for _, why in outcomes])
