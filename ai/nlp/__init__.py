"""Text: embeddings (`embeddings.embed`), their store and search (`store`, `search`), and sentiment."""
