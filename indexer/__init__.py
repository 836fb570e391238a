"""The CarboniX indexer: chain events to SQL (reorg-safe), and the read-only REST API over it."""
