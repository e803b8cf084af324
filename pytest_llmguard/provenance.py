"""Where a run came from: the git commit and branch of the checkout, when there is one."""

from __future__ import annotations

import subprocess


def git_info(cwd: str) -> dict[str, str | None]:
    """Commit and branch of the checkout, or nulls outside git."""

    def ask(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() or None if out.returncode == 0 else None

    return {"commit": ask("rev-parse", "HEAD"), "branch": ask("rev-parse", "--abbrev-ref", "HEAD")}
