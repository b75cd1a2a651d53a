"""Headless Chromium for the tests that check a page as a browser draws it (Debian's chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest


class Elements(HTMLParser):
    """Every start tag and its attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def series(self) -> set[str]:
        """The ``data-series`` of the charts' SVG groups."""
        return {str(attrs["data-series"]) for attrs in self.tags("g") if attrs.get("data-series")}


@dataclass(frozen=True)
class Loaded:
    dom: str  # the DOM after load, as Chromium serialises it
    console: list[str]  # console messages (script errors, blocked loads), from Chromium's log

    @property
    def title(self) -> str:
        found = re.search(r"<title>(.*?)</title>", self.dom)
        return found.group(1) if found else ""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium package)")
    return found


def load(page: Path, profile: Path) -> Loaded:
    """Load ``page`` in headless Chromium; its DOM after load and what its console logged."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--disable-gpu",
            "--no-sandbox",  # root in a container has no user namespace for the sandbox
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return Loaded(result.stdout, console)
