-- The ai service's message embeddings (pgvector) and token budget, and ml-analytics' usage aggregates.

-- pgvector is not a trusted extension: it is created ahead by a superuser (`grid local` and the test fixtures do
-- it as the embedded server's superuser; Cloud SQL's migration job user may create it). IF NOT EXISTS makes this
-- a no-op that needs no privilege when it is already there.
CREATE EXTENSION IF NOT EXISTS vector;

-- One row per embedded message. user_id and conversation_id are copied from the message row at insert time
-- (never from the event), and the row disappears with its message.
CREATE TABLE message_embeddings (
    message_id      uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL DEFAULT app_user_id(),
    conversation_id uuid NOT NULL,
    model           text NOT NULL,
    embedding       vector(384) NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- Cosine distance: the model's vectors are compared by angle (they are normalised, so this is also the dot product).
CREATE INDEX message_embeddings_hnsw ON message_embeddings USING hnsw (embedding vector_cosine_ops);
CREATE INDEX message_embeddings_conversation_idx ON message_embeddings (conversation_id);

-- Completion tokens spent per user and UTC day, for the daily budget.
CREATE TABLE ai_token_usage (
    user_id uuid NOT NULL DEFAULT app_user_id(),
    day     date NOT NULL,
    tokens  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['message_embeddings', 'ai_token_usage'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id())',
            t || '_owner', t);
    END LOOP;
END $$;

-- ml-analytics: cross-user aggregates written by the function (never served to users, so no row policies,
-- like users). usage_counted_messages makes counting idempotent under at-least-once delivery.
CREATE TABLE usage_counted_messages (
    message_id uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    day        date NOT NULL
);
CREATE INDEX usage_counted_messages_day_idx ON usage_counted_messages (day);

CREATE TABLE usage_daily (
    user_id  uuid NOT NULL,
    day      date NOT NULL,
    messages integer NOT NULL DEFAULT 0,
    chars    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
CREATE INDEX usage_daily_day_idx ON usage_daily (day);

CREATE TABLE usage_anomalies (
    user_id    uuid NOT NULL,
    day        date NOT NULL,
    messages   integer NOT NULL,
    baseline   double precision NOT NULL,
    score      double precision NOT NULL,
    flagged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, day)
);
