"""A deterministic synthetic blog archive for the archive benchmark.

Posts of realistic length (~4 KB of HTML) drawn from a Zipf-distributed vocabulary: very
common English words, a few hundred topic words, a long tail of made-up words, words with
diacritics and a few fixed phrases, so queries of every selectivity exist.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from xml.sax.saxutils import escape

GEN_VERSION = 2

COMMON = (
    "the of and to a in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if so "
    "no will can more about said up out what some them into than only other new time could "
    "these two may first then do any like my now over such our man me even most made after "
    "also did many before must through back years where much your way well down should "
    "because each just those people how too little state good very make world still own see "
    "men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three"
).split()

TOPICS = (
    "coffee tea garden election python database performance climate music guitar travel "
    "bicycle running marathon photography camera lens recipe bread cheese wine harbour "
    "mountain river forest library museum painting sculpture theatre cinema novel poetry "
    "history archive newspaper journalism privacy security encryption network server kernel "
    "compiler language grammar vocabulary translation school teacher student university "
    "science physics chemistry biology genome vaccine hospital doctor nurse patient health "
    "football tennis cricket swimming chess puzzle garden tomato potato orchard farmer market "
    "economy inflation budget taxes parliament council mayor village city suburb railway "
    "airport bridge tunnel harbour lighthouse ocean island volcano earthquake weather storm "
    "winter summer autumn spring festival holiday birthday wedding family children parents "
    "dog cat horse bird owl fox wolf bear salmon whale dolphin insect butterfly flower rose "
    "oak pine maple software hardware keyboard monitor laptop phone battery solar wind energy "
    "electricity engine motorcycle truck tractor boat sailing kayak hiking camping tent "
    "astronomy telescope galaxy planet moon comet satellite rocket launch robot sensor drone "
    "podcast video stream radio television interview review essay letter diary memoir "
    "painter architect carpenter plumber baker butcher tailor jeweller potter weaver"
).split()

ACCENTED = (
    "café naïve résumé Zürich São Müller façade jalapeño crème brûlée Ångström smörgåsbord "
    "déjà piñata über Kraków Dvořák Øresund Málaga Besançon"
).split()

PHRASES = [
    "climate change",
    "open source",
    "machine learning",
    "state of the art",
    "New York",
    "public transport",
    "town hall meeting",
    "bread and butter",
]

AUTHORS = [
    "José García",
    "Zoë Müller",
    "Björn Ångström",
    "Alice Martin",
    "Bob Smith",
    "Chen Wei",
    "Fatima Zahra",
    "Olivia Brown",
    "Liam O'Connor",
    "Aarav Patel",
    "Sofia Rossi",
    "Noah Wilson",
    "Mei Tanaka",
    "Lucas Silva",
    "Emma Dubois",
    "Yusuf Demir",
    "Hannah Kowalski",
    "Ivan Petrov",
    "Grace Kim",
    "Mateo López",
] + [f"Guest Writer {n}" for n in range(1, 41)]

CATEGORIES = (
    "News Travel Food Technology Science Sport Culture Politics Health Opinion Reviews "
    "Photography Music Books Cinema Gardening Education Business Environment Local"
).split()


def _pseudo_words(rng: random.Random, n: int) -> list[str]:
    onsets = "b c d f g h j k l m n p r s t v w z br cl dr fl gr pl st tr ch sh th".split()
    vowels = "a e i o u ai ea ee oo ou ie".split()
    codas = ["", "", "n", "r", "s", "l", "t", "nd", "st", "rk", "m"]
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < n:
        syll = rng.choice((1, 2, 2, 2, 3))
        w = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(syll)
        )
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


@dataclass(slots=True)
class SynthPost:
    n: int
    title: str
    author: str
    categories: list[str]
    tags: list[str]
    html: str
    published: float  # unix seconds


class Corpus:
    """posts(count) yields the same posts every time for the same seed."""

    def __init__(self, seed: int = 4) -> None:
        rng = random.Random(seed)
        tail = _pseudo_words(rng, 20000)
        # topic words and accented words sit among the made-up ones at ranks ~300 to ~6,000
        # (in a post's text, like content words in English: a few percent of posts each)
        special = TOPICS + ACCENTED
        rng.shuffle(special)
        ranked = list(tail[:100])
        step = (6000 - 300) // len(special)
        rest = iter(tail[100:])
        for word in special:
            ranked.append(word)
            ranked.extend(itertools.islice(rest, step - 1))
        ranked.extend(rest)
        vocab = COMMON + ranked
        weights = [1.0 / (rank + 1) ** 1.02 for rank in range(len(vocab))]
        cum = list(itertools.accumulate(weights))
        self.pool = rng.choices(vocab, cum_weights=cum, k=1_500_000)
        # what posts are about: some topics far more often than others
        self.topic_cum = list(
            itertools.accumulate(1.0 / (r + 1) ** 0.7 for r in range(len(TOPICS)))
        )
        self.tail = tail
        self.author_cum = list(
            itertools.accumulate(1.0 / (r + 1) ** 0.8 for r in range(len(AUTHORS)))
        )
        self.seed = seed

    def posts(self, count: int, *, start: int = 0, base_time: float = 1.1e9) -> Iterator[SynthPost]:
        rng = random.Random(self.seed * 1000 + start)
        pool = self.pool
        span = 600_000_000.0  # about 19 years
        for n in range(start, start + count):
            topics = list({t: 1 for t in rng.choices(TOPICS, cum_weights=self.topic_cum, k=3)})
            words = pool[(o := rng.randrange(len(pool) - 700)) : o + rng.randint(520, 680)]
            words = list(words)
            for t in topics:  # a post is about something
                for _ in range(rng.randint(2, 6)):
                    words[rng.randrange(len(words))] = t
            if rng.random() < 0.25:
                words[rng.randrange(len(words))] = rng.choice(ACCENTED)
            paras = []
            i = 0
            while i < len(words):
                size = rng.randint(50, 110)
                chunk = words[i : i + size]
                i += size
                sentences = []
                j = 0
                while j < len(chunk):
                    k = rng.randint(8, 22)
                    s = " ".join(chunk[j : j + k])
                    j += k
                    sentences.append(s[:1].upper() + s[1:] + ".")
                para = " ".join(sentences)
                if rng.random() < 0.3:
                    para += f' See <a href="https://example.org/{topics[0]}/{n}">{topics[0]}</a>.'
                if rng.random() < 0.03:
                    para = f"<strong>{rng.choice(PHRASES).capitalize()}</strong>: " + para
                paras.append(f"<p>{escape(para)}</p>" if "<" not in para else f"<p>{para}</p>")
            if rng.random() < 0.05:
                paras.insert(1, f"<p>Why {rng.choice(PHRASES)} matters for {topics[-1]}.</p>")
            title_words = [topics[0].capitalize()] + rng.sample(COMMON[:60], 2) + topics[1:2]
            if rng.random() < 0.5:
                title_words.append(rng.choice(self.tail[:3000]))
            if rng.random() < 0.1:
                title_words.append(rng.choice(ACCENTED))
            rng.shuffle(title_words[1:])
            yield SynthPost(
                n=n,
                title=" ".join(title_words),
                author=rng.choices(AUTHORS, cum_weights=self.author_cum)[0],
                categories=sorted(set(rng.sample(CATEGORIES, rng.choice((1, 1, 2))))),
                tags=rng.sample(topics + rng.sample(TOPICS, 3), rng.randint(0, 4)),
                html="\n".join(paras),
                published=base_time + span * (n - start) / max(count, 1) + rng.random() * 3600,
            )


def write_wxr(path, posts, *, site: str = "https://bench.example", title: str = "Bench") -> None:
    """A WordPress export of these posts (with an author list, like WordPress writes)."""
    import datetime as dt

    def cdata(s: str) -> str:
        return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"

    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0"'
            ' xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"'
            ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
            ' xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n'
            f"<title>{escape(title)}</title>\n<link>{site}</link>\n"
            "<wp:wxr_version>1.2</wp:wxr_version>\n"
        )
        for i, name in enumerate(AUTHORS):
            login = f"user{i}"
            out.write(
                f"<wp:author><wp:author_id>{i + 1}</wp:author_id>"
                f"<wp:author_login>{cdata(login)}</wp:author_login>"
                f"<wp:author_display_name>{cdata(name)}</wp:author_display_name></wp:author>\n"
            )
        logins = {name: f"user{i}" for i, name in enumerate(AUTHORS)}
        for p in posts:
            when = dt.datetime.fromtimestamp(p.published, dt.UTC)
            gmt = when.strftime("%Y-%m-%d %H:%M:%S")
            slug = p.title.lower().replace(" ", "-")
            cats = "".join(
                f'<category domain="category" nicename="{c.lower()}">{cdata(c)}</category>'
                for c in p.categories
            ) + "".join(
                f'<category domain="post_tag" nicename="{t}">{cdata(t)}</category>' for t in p.tags
            )
            out.write(
                "<item>\n"
                f"<title>{cdata(p.title)}</title>\n"
                f"<link>{site}/{when:%Y/%m}/{escape(slug)}-{p.n}/</link>\n"
                f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} +0000</pubDate>\n"
                f"<dc:creator>{cdata(logins[p.author])}</dc:creator>\n"
                f'<guid isPermaLink="false">{site}/?p={p.n + 1}</guid>\n'
                "<description></description>\n"
                f"<content:encoded>{cdata(p.html)}</content:encoded>\n"
                "<excerpt:encoded><![CDATA[]]></excerpt:encoded>\n"
                f"<wp:post_id>{p.n + 1}</wp:post_id>\n"
                f"<wp:post_date>{cdata(gmt)}</wp:post_date>\n"
                f"<wp:post_date_gmt>{cdata(gmt)}</wp:post_date_gmt>\n"
                f"<wp:post_modified_gmt>{cdata(gmt)}</wp:post_modified_gmt>\n"
                "<wp:comment_status><![CDATA[open]]></wp:comment_status>\n"
                f"<wp:post_name>{cdata(slug)}</wp:post_name>\n"
                "<wp:status><![CDATA[publish]]></wp:status>\n"
                "<wp:post_type><![CDATA[post]]></wp:post_type>\n"
                "<wp:post_password><![CDATA[]]></wp:post_password>\n"
                f"{cats}\n"
                "</item>\n"
            )
        out.write("</channel>\n</rss>\n")
