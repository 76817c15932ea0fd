"""Text: embeddings (`embeddings.embed`), their store and search (`store`, `search`), and sentiment
(`from ai.nlp import sentiment`: `sentiment(texts, examples=None)`, the stable interface of docs/insights.md)."""

from ai.nlp.sentiment import sentiment  # noqa: F401
