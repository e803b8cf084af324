"""A headless Chromium driven by Selenium, for the HTML report's tests and benchmark.

Debian's ``chromium`` and ``chromium-driver`` packages (``.ci/run`` installs them) and
Selenium from PyPI. Selenium is told where both are, so it never tries to download a
browser or a driver; the browser runs with a fresh profile and its network features off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_paths() -> tuple[str, str] | None:
    """(browser, driver), or None when either is missing."""
    browser = _find("chromium", "chromium-browser")
    driver = _find("chromedriver") or (
        "/usr/lib/chromium/chromedriver"
        if os.path.exists("/usr/lib/chromium/chromedriver")
        else None
    )
    return (browser, driver) if browser and driver else None


def missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if chromium_paths() is None:
        return (
            "chromium and chromium-driver are not installed "
            "(apt-get install -y chromium chromium-driver)"
        )
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900, *, nice: int | None = None) -> Iterator[Any]:
    """A headless Chromium WebDriver whose console log can be read (``get_log("browser")``).

    ``nice`` runs the driver and the browser at that niceness (a negative one needs root):
    the benchmark's way to give the browser its share of a machine busy with other work.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError(missing_reason() or "chromium is missing")
    browser, driver_path = paths
    profile = tempfile.mkdtemp(prefix="llmguard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    popen: dict[str, Any] = {}
    if nice is not None:
        popen["preexec_fn"] = lambda: os.nice(nice)  # the browser inherits it
    service = Service(driver_path, popen_kw=popen)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
