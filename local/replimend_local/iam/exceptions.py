"""Errors of the IAM emulation."""

from __future__ import annotations


class PolicyDocumentError(ValueError):
    """A policy document that is not valid JSON or lacks a Statement."""


class NoSuchRoleError(LookupError):
    def __init__(self, role: str) -> None:
        super().__init__(f"The role with name {role} cannot be found.")
        self.role = role
