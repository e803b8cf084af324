"""A small retrieval-augmented support answerer: the application the example gates.

``answer.SupportBot`` finds the passages of ``docs/`` that match a question
(``retrieval``), asks a model with them in the system prompt (``prompt``, ``model``:
any OpenAI-compatible Chat Completions endpoint) and cleans the reply up, citing its
source (``answer.postprocess``). ``gate.answer_case`` is what pytest-llmguard calls.
"""
