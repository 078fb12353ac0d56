"""Rankers. Every ranker returns the same shape, a list of ``(paper_id, score)`` pairs, best first, so the surfaces
filter, paginate and render any ranking the same way."""

Ranking = list[tuple[str, float]]

__all__ = ["Ranking"]
