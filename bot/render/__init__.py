"""Discord markdown from what blogs send (pure, no Discord): `markdown` (escaping, links,
HTML -> markdown, cutting to limits), `announcement` (a post), `comment` (a mirrored comment)."""
