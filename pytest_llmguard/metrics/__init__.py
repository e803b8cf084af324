"""Quality signals computed on one output, without an LLM judge.

similarity (to a reference, text or JSON), pii (detection and redaction), refusal,
repetition, hallucination (facts, forbidden claims, groundedness) and textdiff (short
word-level diffs for reports). Quality on labelled data: ``benchmarks/detectors.py``.
"""
