"""A seeded workload of real transactions on the deployed contracts, for indexer tests and benchmarks.

``Workload.setup`` publishes TGO lists, registers and verifies four participants, registers two
projects, issues three credit batches, lists a market for each and funds the traders; each
``step`` then sends one random action through the same Ledger and Exchange code the CLI uses:
an ask or a bid (about half of them cross and trade), a cancel, a credit transfer, a retirement,
or an emission batch. The same seed on the same deployment gives the same transactions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from carbonix.config import Settings
from carbonix.context import account, open_exchange
from carbonix.exceptions import ContractRevertError
from carbonix.exchange import Exchange, satang
from carbonix.ledger import IssueRequest
from carbonix.readings import Reading, build_batch
from carbonix.tgo import CertificationStore, OrgCertification, ProjectCertification, publish

TRADER_INDEXES = (15, 16, 17, 18)
SECTORS = ("industry", "forestry", "agriculture", "energy")
ACTIONS = ("ask", "bid", "ask", "bid", "cancel", "transfer", "retire", "emission")


@dataclass
class Workload:
    ex: Exchange
    traders: list[LocalAccount]
    oracle: LocalAccount
    batches: list[int]
    markets: list[int]
    rng: random.Random
    resting: list[tuple[int, LocalAccount]] = field(default_factory=list)
    sequence: int = 0

    @classmethod
    def setup(cls, settings: Settings, state: Path, tag: str = "IX", seed: int = 8899) -> Workload:
        ex = open_exchange(settings)
        ledger = ex.ledger
        oracle, tgo = account("oracle", settings=settings), account("tgo", settings=settings)
        traders = [account(str(i), settings=settings) for i in TRADER_INDEXES]
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        orgs = [OrgCertification(f"{tag}-ORG-{i}", t.address, now + 2 * 365 * 86400) for i, t in enumerate(traders)]
        projects = [f"TH-TVER-{tag}-FOREST", f"TH-TVER-{tag}-RICE"]
        store = CertificationStore(state)
        listed = [ProjectCertification(p, traders[1 + i].address, True) for i, p in enumerate(projects)]
        publish(ledger, oracle, store, orgs=orgs, projects=listed)
        for org, trader, sector in zip(orgs, traders, SECTORS, strict=True):
            ledger.register_participant(trader, org.org_id, "corporation", "both", sector)
            entry = store.participant_proof(trader.address)
            ledger.verify_participant(trader, trader.address, org.org_id, entry["certified_until"], entry["proof"])
        for i, project in enumerate(projects):
            proof = store.project_proof(project)["proof"]
            kind = ("forestry", "agriculture")[i]
            ledger.register_project(
                traders[1 + i], project, "t_ver", kind, "T-VER-S-METH-13-01", 18.8, 99.0, True, proof
            )
        requests = [
            IssueRequest(projects[0], 2024, "removal", f"{tag}-FOREST-2024", 1, 1_000_000, 0),
            IssueRequest(projects[0], 2025, "removal", f"{tag}-FOREST-2025", 1, 1_000_000, 0),
            IssueRequest(projects[1], 2025, "reduction", f"{tag}-RICE-2025", 1, 1_000_000, 0),
        ]
        batches = [b.batch_id for b in ledger.issue_batches(tgo, requests)]
        regulator = account("regulator", settings=settings)
        markets = [ex.list_market(regulator, b, "1", "100", "2000", 10) for b in batches]
        for t in traders:
            for _ in range(3):  # the faucet gives at most 1,000,000 baht a call
                ex.faucet(t, satang("1000000"))
            ex.deposit_baht(t, satang("3000000"))
        # issued to the project owners (traders 1 and 2); spread so every trader can sell
        owners = {0: traders[1], 1: traders[1], 2: traders[2]}
        for i, batch in enumerate(batches):
            for t in traders:
                if t is not owners[i]:
                    ledger.transfer(owners[i], t.address, batch, 100_000)
            for t in traders:
                ex.deposit_credits(t, markets[i], 50_000)
        return cls(ex, traders, oracle, batches, markets, random.Random(seed))

    def step(self) -> str:
        """Sends one random action; returns its name."""
        rng = self.rng
        action = rng.choice(ACTIONS)
        trader = rng.choice(self.traders)
        m = rng.randrange(len(self.markets))
        try:
            if action in ("ask", "bid"):
                price = str(rng.randrange(300, 420))
                result = self.ex.place(trader, self.markets[m], action, price, rng.randrange(10, 120))
                if result.order_id is not None:
                    self.resting.append((result.order_id, trader))
            elif action == "cancel" and self.resting:
                order_id, owner = self.resting.pop(rng.randrange(len(self.resting)))
                self.ex.cancel(owner, order_id)
            elif action == "transfer":
                to = rng.choice([t for t in self.traders if t is not trader])
                self.ex.ledger.transfer(trader, to.address, self.batches[m], rng.randrange(1, 50))
            elif action == "retire":
                self.ex.ledger.retire(
                    trader, self.batches[m], rng.randrange(1, 30), f"Workload beneficiary {self.sequence}",
                    "voluntary_offset", 1_735_689_600, 1_767_139_200,
                )  # fmt: skip
            elif action == "emission":
                self.sequence += 1
                base = 1_767_225_600 + 3600 * self.sequence
                readings = [Reading(f"kiln-{self.sequence}", i, base + 60 * i, 2_000 + rng.randrange(500), "A")
                            for i in range(4)]  # fmt: skip
                batch, _ = build_batch(trader.address, readings)
                self.ex.ledger.commit_emission_batch(self.oracle, batch)
            else:
                return "skip"
        except ContractRevertError:
            return f"{action} refused"  # e.g. a cancel of an order filled meanwhile
        return action
