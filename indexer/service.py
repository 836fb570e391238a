"""``carbonix indexer run``: one ChainIndexer per chain that holds contracts of the deployment.

The L2 manifest (``CARBONIX_NETWORK``) and, where the deployment has contracts on it, its L1
manifest each give a chain, its contracts with their ABIs, and the deployment block to start
from. The chains are indexed in turn on one thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine

from carbonix.config import Settings, get_settings
from carbonix.deployments import NETWORKS, Deployment, load_deployment
from carbonix.exceptions import CarbonixLookupError
from indexer.core import ChainIndexer, IndexerConfig, StepResult
from indexer.decode import Decoder
from indexer.source import ChainSource

log = logging.getLogger("carbonix.indexer")


def deployments(settings: Settings | None = None) -> list[Deployment]:
    """The deployments to index: the configured network and its L1 when it has contracts there."""
    settings = settings or get_settings()
    main = load_deployment(settings)
    found = [main]
    spec = NETWORKS.get(main.network)
    if spec is not None and spec.l1:
        try:
            l1 = load_deployment(settings, spec.l1)
        except CarbonixLookupError:
            l1 = None
        if l1 is not None and l1.names:
            found.append(l1)
    return found


def chain_indexer(engine: Engine, deployment: Deployment, config: IndexerConfig | None = None) -> ChainIndexer:
    decoder = Decoder({name: (deployment.address(name), deployment.abi(name)) for name in deployment.names})
    return ChainIndexer(
        engine,
        ChainSource(deployment.w3),
        decoder,
        deployment.chain_id,
        deployment.from_block,
        config or IndexerConfig(),
    )


def run(
    indexers: list[ChainIndexer],
    stop: Callable[[], bool],
    until_head: bool = False,
    on_step: Callable[[ChainIndexer, StepResult], None] | None = None,
) -> None:
    """Steps every chain in turn until ``stop()`` (or, with ``until_head``, until all caught up)."""
    poll = min((ix.config.poll_seconds for ix in indexers), default=0.5)
    while not stop():
        moved = False
        for ix in indexers:
            result = ix.step()
            if on_step is not None:
                on_step(ix, result)
            if result.blocks or result.rolled_back_to is not None:
                moved = True
        if not moved:
            if until_head:
                return
            time.sleep(poll)
