"""Audit queries over the ledger and the audit HTTP API.

queries.py  the questions (failures, one object, incidents, jobs, summary), from the Ledger facade
schema.py   the response documents (pydantic; the OpenAPI schema comes from them)
cursor.py   opaque, checked pagination cursors
api.py      the Powertools resolver: routes, validation, errors, the OpenAPI document
"""
