"""The read-only REST API over the indexer's database (``carbonix api serve``); see app.py."""

from indexer.api.app import create_app

__all__ = ["create_app"]
