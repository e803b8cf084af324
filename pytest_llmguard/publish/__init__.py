"""Where results go besides the reports: alerts (webhook, GitHub issues) and their spool."""

from __future__ import annotations
