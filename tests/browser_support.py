"""Test support: headless Chromium from the distribution, loading a page as a person would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (`apt-get install chromium`; .ci/run installs it)")


def chromium(url: str, profile: Path, *extra: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    """One headless run: no network beyond the URL, no sync or updates, a throwaway profile.
    --virtual-time-budget lets the page's script run (its first refresh) before the capture."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", "--virtual-time-budget=2500", *extra, url]
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout_s)


def dump_dom(url: str, profile: Path) -> str:
    result = chromium(url, profile, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(url: str, profile: Path, path: Path, size: str = "1200,900") -> Path:
    result = chromium(url, profile, f"--screenshot={path}", f"--window-size={size}", "--hide-scrollbars")
    assert result.returncode == 0 and path.is_file(), result.stderr[-2000:]
    return path
