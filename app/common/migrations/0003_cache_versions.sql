-- Cache tag versions (app/common/cache.py). A write bumps the versions of the tags it invalidates in its own
-- transaction, and a Redis cache entry is served only while the versions it was built at are still these: the
-- truth about what is stale lives with the data, so no Redis outage, restart or restore can bring stale
-- entries back. No row policies: a row holds an opaque tag and a counter, nothing of a user's content.
CREATE TABLE cache_versions (
    tag     text PRIMARY KEY,
    version bigint NOT NULL DEFAULT 1
);
