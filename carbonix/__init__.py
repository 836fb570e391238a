"""CarboniX core: chain control, deployments, Merkle trees, registry import and the carbonix CLI."""
