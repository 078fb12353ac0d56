"""The learned re-ranker: its features mean what their names say, the shipped model is the one this code computes
features for, and more evidence never ranks a paper lower (the model is monotone in every feature)."""

from __future__ import annotations

import numpy as np
import pytest

from paperboy.index import analysis, rerank
from paperboy.index.hybrid import Fusion

QUERY = "vitamin D deficiency weakens bone density"
TEXTS = {
    # all the query's words, in one sentence and in the query's order
    "whole": "Bone health in adults\nWe studied many adults. Vitamin D deficiency weakens bone density in the old.",
    # the same words, spread over sentences far apart
    "spread": "Deficiency studies\nBone is tissue. Its density varies with age and many other things we measured. "
    "Weakens? Perhaps. Vitamin intake, in particular D, matters.",
    # half of them
    "half": "Vitamin supplements\nVitamin D was given to children in a randomised trial.",
    # none
    "none": "Graph neural networks\nMessage passing on molecular graphs predicts their properties.",
}
IDF = {term: 1.0 + (len(term) % 3) for text in [QUERY, *TEXTS.values()] for term in analysis.analyze(text)}


def idf_of(terms):
    return {t: IDF.get(t, 0.0) for t in terms}


def pool(order=("whole", "spread", "half", "none")) -> list[rerank.Candidate]:
    return [
        rerank.Candidate(
            pid,
            fused=1.0 - i / 10,
            lexical=None if pid == "none" else 5.0 - i,
            cosine=0.5 - i / 10,
            lexical_rank=i if pid != "none" else None,
            dense_rank=i,
        )
        for i, pid in enumerate(order)
    ]


def features(candidates, query=QUERY, texts=TEXTS, idf=idf_of) -> dict[str, dict[str, float]]:
    matrix = rerank.pool_features(query, candidates, texts, idf)
    assert matrix.shape == (len(candidates), len(rerank.FEATURES))
    return {c.paper_id: dict(zip(rerank.FEATURES, row, strict=True)) for c, row in zip(candidates, matrix, strict=True)}


def test_sentence_terms_are_the_analyzer_terms_of_each_sentence() -> None:
    text = "A Title: on X\nWe show that e.g. the 3.5 mm thing works. Results (n=3) hold! [1] Next. 42 mice died."
    assert analysis.sentences(text) == [
        "A Title: on X",
        "We show that e.g. the 3.5 mm thing works.",
        "Results (n=3) hold!",
        "[1] Next.",
        "42 mice died.",
    ]
    assert list(analysis.sentence_terms(text)) == [tuple(analysis.analyze(s)) for s in analysis.sentences(text)]


def test_coverage_features_tell_whole_spread_half_and_none_apart() -> None:
    f = features(pool())
    assert f["whole"]["coverage"] == pytest.approx(1.0) and f["spread"]["coverage"] == pytest.approx(1.0)
    assert f["whole"]["all_words"] == 1.0 and f["half"]["all_words"] == 0.0
    assert 0 < f["half"]["coverage"] < 1 and f["none"]["coverage"] == 0.0
    # one sentence holds them all only in "whole"; its word pairs stand side by side only there
    assert f["whole"]["sentence_coverage"] == pytest.approx(1.0)
    assert f["spread"]["sentence_coverage"] < 0.6
    assert f["whole"]["pairs_within_1"] == pytest.approx(1.0)
    assert f["spread"]["pairs_within_1"] < 0.5
    assert f["spread"]["pairs_within_8"] <= f["whole"]["pairs_within_8"]
    assert f["whole"]["title_coverage"] < f["whole"]["coverage"]


def test_score_features_are_scaled_per_pool_and_missing_halves_score_nothing() -> None:
    f = features(pool())
    assert f["whole"]["dense"] == 1.0 and f["none"]["dense"] == 0.0
    assert f["whole"]["lexical"] == 1.0 and f["none"]["lexical"] == 0.0 and f["none"]["lexical_rank"] == 0.0
    assert f["whole"]["lexical_rank"] == pytest.approx(1 / 60)
    assert f["whole"]["cosine"] == pytest.approx(0.5)
    assert f["whole"]["fused"] == 1.0 and f["none"]["fused"] == 0.0


def test_sentence_position_and_length_features() -> None:
    f = features(pool())
    # "whole": its last of three sentences holds the whole query; "half": its one sentence has "vitamin D", its
    # title "vitamin" only
    assert f["whole"]["best_sentence_position"] == 1.0
    assert f["half"]["best_sentence_position"] == 1.0
    assert f["none"]["best_sentence_position"] == 0.0  # no sentence has any of it: the first is as good as any
    assert f["spread"]["length"] > f["half"]["length"] == pytest.approx(np.log1p(len(analysis.analyze(TEXTS["half"]))))


def test_query_features_are_the_same_for_every_paper_of_a_pool() -> None:
    f = features(pool())
    stems = [s for s in dict.fromkeys(analysis.analyze(QUERY)) if s not in analysis.STOP_WORDS]
    for paper in f.values():
        assert paper["query_words"] == len(stems)
        assert paper["query_max_idf"] == max(IDF[s] for s in stems)


def test_a_camel_case_query_is_read_by_its_parts_in_queries_and_papers() -> None:
    """ "AgentFormer" stems to one term no paper has; the re-ranker reads its parts, as the sub-word fields do."""
    assert analysis.with_camel_parts("AgentFormer, mRNA and HeLa") == "AgentFormer Agent Former, mRNA RNA and HeLa"
    texts = {
        "both": "RigidFormer agents\nWe build agents on a RigidFormer backbone.",
        "one": "Agents at work\nLanguage agents act in the world.",
        "none": TEXTS["none"],
    }
    candidates = [rerank.Candidate(pid, 1.0 - i / 10, None, 0.5, None, i) for i, pid in enumerate(texts)]
    idf = {"agent": 2.0, "former": 4.0, "rigidform": 5.0, "rigid": 5.0}
    f = features(candidates, "AgentFormer", texts, lambda terms: {t: idf.get(t, 0.0) for t in terms})
    assert f["both"]["query_words"] == 2.0 and f["both"]["query_max_idf"] == 4.0
    assert f["both"]["coverage"] == pytest.approx(1.0) and f["both"]["pairs_within_1"] == pytest.approx(1.0)
    assert f["one"]["coverage"] == pytest.approx(2.0 / 6.0)
    assert f["none"]["coverage"] == 0.0


def test_feedback_leaves_the_paper_itself_out() -> None:
    """Likeness to the pool's best papers: an unrelated paper ranked first is not rewarded for resembling itself."""
    order = ("none", "whole", "spread", "half")
    matrix = rerank.pool_features(QUERY, pool(order), TEXTS, idf_of)
    column = rerank.FEATURES.index("feedback_3")
    by_id = dict(zip(order, matrix[:, column], strict=True))
    assert by_id["none"] == pytest.approx(0.0)
    assert by_id["half"] > 0.0  # outside the best 3, it shares their vitamin D


def test_an_empty_pool_and_a_query_of_unknown_words_still_give_features() -> None:
    assert rerank.pool_features(QUERY, [], TEXTS, idf_of).shape == (0, len(rerank.FEATURES))
    matrix = rerank.pool_features("zzqx wvvy", pool(), TEXTS, idf_of)
    assert np.isfinite(matrix).all()


def test_shipped_model_matches_these_features_and_is_monotone() -> None:
    model = rerank.shipped()
    rng = np.random.default_rng(0)
    rows = rng.random((200, len(rerank.FEATURES)))
    base = model.score(rows)
    for column, name in enumerate(rerank.FEATURES):
        if name in rerank.UNCONSTRAINED:
            continue
        raised = rows.copy()
        raised[:, column] = np.minimum(1.0, raised[:, column] + 0.3)
        assert (model.score(raised) >= base - 1e-9).all(), rerank.FEATURES[column]
    assert len(set(np.round(base, 6))) > 50  # it does tell papers apart


def test_a_model_for_other_features_is_refused() -> None:
    text = rerank.MODEL_PATH.read_text(encoding="utf-8").replace("feature_names=dense ", "feature_names=density ", 1)
    with pytest.raises(ValueError, match="retrain"):
        rerank.Reranker(text)


def test_train_learns_to_put_relevant_papers_first() -> None:
    """On pools where relevance follows one feature, the trained model ranks by that feature."""
    rng = np.random.default_rng(1)
    column = rerank.FEATURES.index("sentence_coverage")
    pools = []
    for _ in range(60):
        x = rng.random((20, len(rerank.FEATURES)))
        pools.append((x, (x[:, column] > 0.8).astype(int)))
    model = rerank.Reranker(rerank.train(pools, rounds=30))
    x = rng.random((20, len(rerank.FEATURES)))
    x[[4, 11, 17], column] = 0.9  # three relevant papers, wherever the rest falls
    order = np.argsort(-model.score(x))
    assert (x[order[:3], column] > 0.8).all()


def test_negative_rerank_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="re-rank depth"):
        Fusion(rerank_depth=-1)
