"""Privacy: what is stored or sent, for how long, and how it is erased.

- :mod:`~pytest_llmguard.privacy.redactor`: ``Redactor`` (the ``redact:`` kinds and user
  patterns applied to one text, saying which kinds it removed).
- :mod:`~pytest_llmguard.privacy.artefacts`: THE redaction step of the pipeline: an
  Outcome, a Case or an Observation mapped to its redacted form where artefacts are written.
- :mod:`~pytest_llmguard.privacy.retention`: age limits enforced at the start of a run, and
  erasure of everything stored that contains a text (``llmguard purge``).
"""
