"""Settings for the carbonix CLI and the services that share its chain set-up.

Every value comes from the environment (prefix ``CARBONIX_``) with a default that runs the whole
product locally: two anvil chains on loopback, state under ``.state/`` in the project folder.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# anvil's well-known development mnemonic. It guards nothing: its keys are public, and they are
# only ever used against the local anvil chains that `carbonix chain up` starts.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARBONIX_", extra="ignore")

    # Folder for chain state, deployment manifests, logs and pid files.
    state_dir: Path = PROJECT_ROOT / ".state"
    # Loopback host the local anvil nodes listen on.
    host: str = "127.0.0.1"
    # JibChain-style settlement chain (L1): port and chain id.
    l1_port: int = 8545
    l1_chain_id: int = 8899
    # OP-Stack-style trading and data chain (L2): port and chain id.
    l2_port: int = 9545
    l2_chain_id: int = 555888
    # Seconds between blocks on the local chains; 0 mines on every transaction.
    block_time: int = 0
    # Time of a fresh local chain's first block (ISO 8601 or unix seconds); its clock runs on from
    # there. None: the machine's clock. Runs tests and demos at another date (make test-clocks).
    genesis_time: datetime | None = None
    # RPC URL overrides, for running against real networks instead of local anvil.
    l1_rpc_url: str | None = None
    l2_rpc_url: str | None = None
    # Name of the deployments manifest to read (``<network>.json`` under deployments_dir).
    network: str = "l2-local"
    # Where deployment manifests and Blockscout verification payloads are written.
    deployments_dir: Path | None = None
    # Mnemonic for local role keys; only used against local anvil chains.
    dev_mnemonic: str = Field(default=ANVIL_MNEMONIC, repr=False)

    @property
    def l1_url(self) -> str:
        return self.l1_rpc_url or f"http://{self.host}:{self.l1_port}"

    @property
    def l2_url(self) -> str:
        return self.l2_rpc_url or f"http://{self.host}:{self.l2_port}"

    @property
    def manifests_dir(self) -> Path:
        return self.deployments_dir or self.state_dir / "deployments"


@lru_cache
def get_settings() -> Settings:
    return Settings()
