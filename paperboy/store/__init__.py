"""The store: all SQL lives in this package."""

from paperboy.store.store import BatchOutcome, ListedPaper, Store

__all__ = ["BatchOutcome", "ListedPaper", "Store"]
