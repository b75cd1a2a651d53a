"""What the local SAM runtime raises."""

from __future__ import annotations


class TemplateError(Exception):
    """The template asks for something the local runtime cannot resolve or create."""


class DrainTimeout(RuntimeError):
    """Event sources kept delivering after the round limit (a poison message without a DLQ?)."""
