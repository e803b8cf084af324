"""Production logs as cases: one reader per format, sampling, the production baseline.

- :mod:`~pytest_llmguard.sources.record`: ``LogRecord``, one logged call, normalised;
- readers, one module per format (each cites the specification it follows):
  :mod:`~pytest_llmguard.sources.openai_jsonl`, :mod:`~pytest_llmguard.sources.otel`
  (with :mod:`~pytest_llmguard.sources.otlp` and :mod:`~pytest_llmguard.sources.traces`),
  :mod:`~pytest_llmguard.sources.openinference`, :mod:`~pytest_llmguard.sources.langfuse`,
  :mod:`~pytest_llmguard.sources.litellm`; :mod:`~pytest_llmguard.sources.registry`
  names them and detects ``format: auto``; :mod:`~pytest_llmguard.sources.files` streams
  JSONL or one JSON document, gzip or not; :mod:`~pytest_llmguard.sources.tally` counts
  bad, unusable and skipped records;
- :mod:`~pytest_llmguard.sources.sampling`: uniform, stratified, windowed, deduplicated,
  seeded and independent of the order of the records;
- :mod:`~pytest_llmguard.sources.cases`: records as (redacted) cases and pseudo golden
  sets; :mod:`~pytest_llmguard.sources.golden_file` writes a sample as a golden set;
- :mod:`~pytest_llmguard.sources.production`: the ``production`` baseline;
- :mod:`~pytest_llmguard.sources.loading`: ``logs:`` in, cases out.

Nothing here is imported until logs are configured: the package costs nothing otherwise.
"""

from __future__ import annotations
