-- Items the scraper job publishes (item.scraped), stored and embedded by the ai service so they can be searched
-- (app/ai/items.py). Shared content, not a user's: no row policies (like usage_daily); every signed-in user may
-- search them. IF NOT EXISTS throughout: rerunning this file on a database that has the table changes nothing.

CREATE EXTENSION IF NOT EXISTS vector;

-- One row per item and source. The key is what the scraper de-duplicates on (the source's item id), so a
-- redelivered or re-published event finds its row; the same link under a new id in one source is the same item too.
CREATE TABLE IF NOT EXISTS scraped_items (
    source     text NOT NULL CHECK (length(source) <= 200),
    item_id    text NOT NULL CHECK (length(item_id) <= 2000),
    url        text CHECK (length(url) <= 2000),
    title      text NOT NULL DEFAULT '' CHECK (length(title) <= 1000),
    content    text NOT NULL,
    published  text,
    model      text NOT NULL,
    embedding  vector(384) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, item_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS scraped_items_source_url_key ON scraped_items (source, url) WHERE url IS NOT NULL;
-- Cosine distance, as message_embeddings: the model's vectors are normalised.
CREATE INDEX IF NOT EXISTS scraped_items_hnsw ON scraped_items USING hnsw (embedding vector_cosine_ops);
