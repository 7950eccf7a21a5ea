"""The ai service: embeddings, semantic search over messages, and completions through a configured provider."""
