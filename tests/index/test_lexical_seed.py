"""The seed page's promise on the real HF archive: "AgentFormer" finds Agent-compounds and -former compounds."""

from __future__ import annotations

import re
from pathlib import Path

from paperboy.domain import Paper
from paperboy.index.lexical import Highlighter, LexicalIndex, index_path
from paperboy.index.query import parse_query
from paperboy.index.sync import rebuild
from paperboy.settings import Settings
from paperboy.sources import hf_daily
from paperboy.sources.base import ingest
from paperboy.store import Store

AGENT_COMPOUND = re.compile(r"\bAgent[A-Z]\w*")  # AgentCoder, AgentGym, AgentTuning
FORMER_COMPOUND = re.compile(r"\b\w+[Ff]ormers?\b")  # TokenFormer, MemoryFormer, Hiformer, Transformers
AGENT_PART = re.compile(r"(?:\b|(?<=[a-z])(?=A))[Aa]gent")  # a word starting with agent, or a camel part
FORMER_PART = re.compile(r"[Ff]ormers?\b")


def test_agentformer_on_the_real_archive(store: Store, settings: Settings, shared_data: Path) -> None:
    raw = shared_data / "hf_daily_papers" / "raw"
    report = ingest(store, hf_daily.read_path(raw), hf_daily.NAME, str(raw))
    assert report.new > 9000
    index = LexicalIndex(index_path(settings.data_dir))
    assert rebuild(store, index).indexed == report.new
    titles = {p.id: p.title for p in store.iter_papers()}

    hits = index.search(parse_query("AgentFormer"), limit=10_000)
    found = [h.paper_id for h in hits]
    scores = {h.paper_id: h.score for h in hits}

    agent_compounds = {pid for pid, t in titles.items() if AGENT_COMPOUND.search(t)}
    former_compounds = {pid for pid, t in titles.items() if FORMER_COMPOUND.search(t)}
    assert len(agent_compounds) > 20 and len(former_compounds) > 20
    assert agent_compounds <= set(found)
    assert former_compounds <= set(found)
    camel_former = {pid for pid in former_compounds if re.search(r"[a-z]Former", titles[pid])}
    assert camel_former and camel_former <= set(found)

    both = {pid for pid, t in titles.items() if AGENT_PART.search(t) and FORMER_PART.search(t)}
    one = {pid for pid, t in titles.items() if bool(AGENT_PART.search(t)) != bool(FORMER_PART.search(t))}
    assert both and one
    assert min(scores[pid] for pid in both) > max(scores[pid] for pid in one)
    assert set(found[: len(both)]) == both  # titles with both parts come first

    # a title with the literal compound (none in the archive) beats them all
    index.add_or_replace([Paper(id="literal", title="AgentFormer: Agent-Aware Transformers", abstract="x")])
    assert index.search(parse_query("AgentFormer"), limit=1)[0].paper_id == "literal"
    title = Highlighter(parse_query("AgentFormer")).title("AgentFormer: Agent-Aware Transformers")
    assert title == "<mark>AgentFormer</mark>: <mark>Agent</mark>-Aware Trans<mark>former</mark>s"
