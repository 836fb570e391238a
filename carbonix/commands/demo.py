"""carbonix demo."""


def demo() -> None:
    """Run the narrated demo (in progress)."""
