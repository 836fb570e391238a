"""CarboniX core: chain control, deployments, ledger, Merkle trees, EIP-712, registry import, settings and SQL.

Every other package builds on it (the oracle, the indexer, the CLI); it imports none of them.
"""
