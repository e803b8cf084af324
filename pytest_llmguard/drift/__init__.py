"""The nightly drift check: history, silent model updates, slow creep, production drift.

``pytest --llmguard --llmguard-drift`` and ``llmguard drift`` run the golden sets, then
``check.check_drift`` judges tonight against the stored nights (``history``), and the
night is stored with its compact forms (``night``). One module per idea: ``outputs``
(silent changes), ``trends`` (slopes and control charts), ``production`` (windows of
production records), ``findings`` (the records reports and alerts read), ``render``.
"""

from __future__ import annotations
