"""Errors of the REST API. One root; each subclass also inherits the builtin it means."""

from __future__ import annotations

from carbonix.exceptions import CarbonixError


class ApiError(CarbonixError):
    """Root of every error the API raises on purpose."""


class ChainUnavailableError(ApiError, ConnectionError):
    """The chain's RPC (or the deployment manifest that names it) cannot be reached right now."""
