-- The archive's search indexes. Both FTS5 tables are external-content: they hold only the
-- index, the text stays in `posts` (no second copy).
--
-- New posts are indexed in batches, not by an INSERT trigger: FTS5 flushes its buffer at
-- every statement savepoint, so a per-row trigger writes one index segment per post and
-- makes every insert (feed polls included) about three times slower. Posts with
-- id <= archive_state.indexed_upto are indexed; Store.index_pending() indexes the rest in
-- one statement (searches call it first; bulk imports after each batch). Updates and
-- deletes of indexed posts are kept in step by triggers.

-- What the indexes see of a post. `feed` is one token per post ("gazettefeed12") so a
-- server's search is restricted to its own feeds inside the index, without reading posts.
CREATE VIEW posts_search_source AS
SELECT id,
       title,
       content_text AS body,
       author,
       categories || ' ' || tags AS terms,
       'gazettefeed' || feed_id AS feed
FROM posts;

-- Full text: title, body, author, categories and tags. Porter stemming over unicode61 with
-- diacritics folded; detail=full keeps phrase queries; column sizes kept for bm25.
CREATE VIRTUAL TABLE posts_fts USING fts5(
    title, body, author, terms, feed,
    content = 'posts_search_source',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
-- ORDER BY rank: the title weighs most, then author and categories, then the body.
INSERT INTO posts_fts(posts_fts, rank) VALUES ('rank', 'bm25(8.0, 1.0, 3.0, 3.0, 0.0)');

-- Title, author and categories without stemming: title autocomplete (prefix queries on a
-- small index), and the first tier of searches matching very many posts.
CREATE VIRTUAL TABLE titles_fts USING fts5(
    title, author, terms, feed,
    content = 'posts_search_source',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO titles_fts(titles_fts, rank) VALUES ('rank', 'bm25(8.0, 3.0, 3.0, 0.0)');

CREATE TABLE archive_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto INTEGER NOT NULL -- posts with id <= this are in posts_fts and titles_fts
);

CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts(posts_fts, rowid, title, body, author, terms, feed)
    SELECT 'delete', old.id, old.title, old.content_text, old.author,
           old.categories || ' ' || old.tags, 'gazettefeed' || old.feed_id
    WHERE old.id <= (SELECT indexed_upto FROM archive_state);
    INSERT INTO titles_fts(titles_fts, rowid, title, author, terms, feed)
    SELECT 'delete', old.id, old.title, old.author, old.categories || ' ' || old.tags,
           'gazettefeed' || old.feed_id
    WHERE old.id <= (SELECT indexed_upto FROM archive_state);
    -- SQLite gives the next post max(id) + 1: never let that id count as indexed
    UPDATE archive_state SET indexed_upto = (SELECT coalesce(max(id), 0) FROM posts)
    WHERE indexed_upto > (SELECT coalesce(max(id), 0) FROM posts);
END;

CREATE TRIGGER posts_fts_update
AFTER UPDATE OF title, content_text, author, categories, tags, feed_id ON posts
WHEN old.id <= (SELECT indexed_upto FROM archive_state) BEGIN
    INSERT INTO posts_fts(posts_fts, rowid, title, body, author, terms, feed)
    VALUES ('delete', old.id, old.title, old.content_text, old.author,
            old.categories || ' ' || old.tags, 'gazettefeed' || old.feed_id);
    INSERT INTO posts_fts(rowid, title, body, author, terms, feed)
    VALUES (new.id, new.title, new.content_text, new.author,
            new.categories || ' ' || new.tags, 'gazettefeed' || new.feed_id);
    INSERT INTO titles_fts(titles_fts, rowid, title, author, terms, feed)
    VALUES ('delete', old.id, old.title, old.author, old.categories || ' ' || old.tags,
            'gazettefeed' || old.feed_id);
    INSERT INTO titles_fts(rowid, title, author, terms, feed)
    VALUES (new.id, new.title, new.author, new.categories || ' ' || new.tags,
            'gazettefeed' || new.feed_id);
END;

-- Authors, categories and tags per feed with their post counts: autocomplete reads this
-- small table instead of scanning posts. Also each feed's number of posts (kind 'posts').
CREATE TABLE archive_facets (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    kind TEXT NOT NULL, -- author | category | tag | posts (name '': the feed's post count)
    name TEXT NOT NULL,
    posts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (feed_id, kind, name)
) WITHOUT ROWID;

CREATE TRIGGER posts_facets_insert AFTER INSERT ON posts BEGIN
    INSERT INTO archive_facets(feed_id, kind, name, posts)
    SELECT new.feed_id, 'posts', '', 1
    UNION
    SELECT new.feed_id, 'author', trim(new.author), 1 WHERE trim(coalesce(new.author, '')) != ''
    UNION
    SELECT new.feed_id, 'category', trim(value), 1
    FROM json_each(CASE WHEN json_valid(new.categories) THEN new.categories ELSE '[]' END)
    WHERE type = 'text' AND trim(value) != ''
    UNION
    SELECT new.feed_id, 'tag', trim(value), 1
    FROM json_each(CASE WHEN json_valid(new.tags) THEN new.tags ELSE '[]' END)
    WHERE type = 'text' AND trim(value) != ''
    ON CONFLICT (feed_id, kind, name) DO UPDATE SET posts = posts + 1;
END;

CREATE TRIGGER posts_facets_delete AFTER DELETE ON posts BEGIN
    UPDATE archive_facets SET posts = posts - 1
    WHERE feed_id = old.feed_id AND (
        (kind = 'posts' AND name = '')
        OR (kind = 'author' AND name = trim(old.author))
        OR (kind = 'category' AND name IN (SELECT trim(value) FROM json_each(
            CASE WHEN json_valid(old.categories) THEN old.categories ELSE '[]' END)))
        OR (kind = 'tag' AND name IN (SELECT trim(value) FROM json_each(
            CASE WHEN json_valid(old.tags) THEN old.tags ELSE '[]' END)))
    );
    DELETE FROM archive_facets WHERE feed_id = old.feed_id AND posts <= 0;
END;

CREATE TRIGGER posts_facets_update
AFTER UPDATE OF author, categories, tags, feed_id ON posts BEGIN
    UPDATE archive_facets SET posts = posts - 1
    WHERE feed_id = old.feed_id AND (
        (kind = 'posts' AND name = '')
        OR (kind = 'author' AND name = trim(old.author))
        OR (kind = 'category' AND name IN (SELECT trim(value) FROM json_each(
            CASE WHEN json_valid(old.categories) THEN old.categories ELSE '[]' END)))
        OR (kind = 'tag' AND name IN (SELECT trim(value) FROM json_each(
            CASE WHEN json_valid(old.tags) THEN old.tags ELSE '[]' END)))
    );
    DELETE FROM archive_facets WHERE feed_id = old.feed_id AND posts <= 0;
    INSERT INTO archive_facets(feed_id, kind, name, posts)
    SELECT new.feed_id, 'posts', '', 1
    UNION
    SELECT new.feed_id, 'author', trim(new.author), 1 WHERE trim(coalesce(new.author, '')) != ''
    UNION
    SELECT new.feed_id, 'category', trim(value), 1
    FROM json_each(CASE WHEN json_valid(new.categories) THEN new.categories ELSE '[]' END)
    WHERE type = 'text' AND trim(value) != ''
    UNION
    SELECT new.feed_id, 'tag', trim(value), 1
    FROM json_each(CASE WHEN json_valid(new.tags) THEN new.tags ELSE '[]' END)
    WHERE type = 'text' AND trim(value) != ''
    ON CONFLICT (feed_id, kind, name) DO UPDATE SET posts = posts + 1;
END;

-- Posts stored before this migration.
INSERT INTO posts_fts(rowid, title, body, author, terms, feed)
SELECT id, title, body, author, terms, feed FROM posts_search_source;
INSERT INTO titles_fts(rowid, title, author, terms, feed)
SELECT id, title, author, terms, feed FROM posts_search_source;
INSERT INTO archive_state(id, indexed_upto) SELECT 1, coalesce(max(id), 0) FROM posts;
INSERT INTO archive_facets(feed_id, kind, name, posts)
SELECT feed_id, kind, name, count(*) FROM (
    SELECT id, feed_id, 'posts' AS kind, '' AS name FROM posts
    UNION
    SELECT id, feed_id, 'author', trim(author) FROM posts
    WHERE trim(coalesce(author, '')) != ''
    UNION
    SELECT p.id, p.feed_id, 'category', trim(j.value) FROM posts p, json_each(
        CASE WHEN json_valid(p.categories) THEN p.categories ELSE '[]' END) j
    WHERE j.type = 'text' AND trim(j.value) != ''
    UNION
    SELECT p.id, p.feed_id, 'tag', trim(j.value) FROM posts p, json_each(
        CASE WHEN json_valid(p.tags) THEN p.tags ELSE '[]' END) j
    WHERE j.type = 'text' AND trim(j.value) != ''
)
GROUP BY feed_id, kind, name;
