"""The search index: derived from the store, rebuildable at any time, kept current after every ingest or edit.

Lexical (BM25 on tantivy) and dense (embeddings + an HNSW graph) halves, fused by the hybrid module.
"""
