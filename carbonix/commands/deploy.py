"""carbonix deploy."""


def deploy() -> None:
    """Deploy the contracts (in progress)."""
