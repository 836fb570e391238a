"""Quarterly cap-and-trade settlement from Python: caps from the data log, settling, debts, allowances.

Caps follow the paper's Table 3 strategies: a percentile of the sector's verified emissions in the
quarter, a surcharge rate and a floor price. ``propose_cap`` computes the cap from the data log and
returns the evidence (every participant's verified total, sorted) so the regulator sees what it
posts. Amounts: kg CO2e from the data log, THB at the edges, satang on-chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from carbonix import enums
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.exchange import satang, thb
from carbonix.ids import wallet_address
from carbonix.ledger import Ledger
from carbonix.orderbook import period_label

KG_PER_TONNE = 1000
SETTLE_BATCH = 100


@dataclass(frozen=True)
class Strategy:
    """A row of Table 3: cap percentile, surcharge and floor price (THB per tonne)."""

    percentile: int
    surcharge_thb: int
    floor_thb: int
    target: str


STRATEGIES = {
    "aggressive": Strategy(15, 500, 200, "power generation"),
    "moderate": Strategy(30, 300, 150, "industrial manufacturing"),
    "soft": Strategy(45, 150, 100, "SMEs, agriculture"),
}


@dataclass(frozen=True)
class Terms:
    cap_kg: int
    surcharge_satang: int  # per tonne
    base_satang: int  # per tonne
    floor_satang: int  # per tonne
    tolerance_kg: int

    def as_tuple(self) -> tuple[int, int, int, int, int, bool]:
        return (self.cap_kg, self.surcharge_satang, self.base_satang, self.floor_satang, self.tolerance_kg, True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cap_t": str(Decimal(self.cap_kg) / KG_PER_TONNE),
            "surcharge_thb_per_t": str(thb(self.surcharge_satang)),
            "base_thb_per_t": str(thb(self.base_satang)),
            "floor_thb_per_t": str(thb(self.floor_satang)),
            "tolerance_t": str(Decimal(self.tolerance_kg) / KG_PER_TONNE),
        }


@dataclass
class CapProposal:
    period: int
    sector: str
    strategy: str
    percentile: int
    terms: Terms
    evidence: list[tuple[str, int]] = field(default_factory=list)  # (wallet, kg), ascending

    def as_dict(self) -> dict[str, Any]:
        return {
            "quarter": period_label(self.period),
            "sector": self.sector,
            "strategy": self.strategy,
            "percentile": self.percentile,
            "participants_with_data": len(self.evidence),
            "emissions_t_sorted": [str(Decimal(kg) / KG_PER_TONNE) for _, kg in self.evidence],
            "terms": self.terms.as_dict(),
        }


def nearest_rank(sorted_values: list[int], percentile: int) -> int:
    """The nearest-rank percentile of an ascending list (the smallest value with at least
    ``percentile`` % of the values at or below it)."""
    if not sorted_values:
        raise CarbonixValueError("no verified emissions to take a percentile of")
    if not 0 < percentile <= 100:
        raise CarbonixValueError(f"a percentile is in 1..100, not {percentile}")
    rank = max(1, math.ceil(percentile / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class Settlement:
    """The deployed Settlement contract with the ledger it reads."""

    def __init__(self, ledger: Ledger, contracts: dict[str, Contract]) -> None:
        if "Settlement" not in contracts:
            raise CarbonixLookupError("this deployment has no Settlement: run `carbonix deploy` again")
        self.ledger = ledger
        self.contract = contracts["Settlement"]
        self.tx = ledger.tx

    # caps -----------------------------------------------------------------------------------
    def participants(self, sector: str | None = None) -> list[str]:
        """Registered participants (of one sector), from the registry's events."""
        index = enums.index("Sector", sector) if sector else None
        logs = self.ledger.registry.events.ParticipantRegistered.get_logs(from_block=self.ledger.from_block)
        return [log["args"]["wallet"] for log in logs if index is None or log["args"]["sector"] == index]

    def emissions(self, wallet: str, period: int, flow: str = "emission") -> int:
        return self.ledger.emission_total(wallet, period // 4, period % 4 + 1, flow)

    def propose_cap(
        self,
        period: int,
        sector: str,
        strategy: str,
        percentile: int | None = None,
        base_thb: str = "0",
        tolerance_t: int = 1,
    ) -> CapProposal:
        if strategy not in STRATEGIES:
            raise CarbonixValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        preset = STRATEGIES[strategy]
        pct = percentile or preset.percentile
        evidence = sorted(
            ((w, kg) for w in self.participants(sector) if (kg := self.emissions(w, period)) > 0),
            key=lambda item: item[1],
        )
        if not evidence:
            raise CarbonixValueError(
                f"no {sector} participant has verified emissions in {period_label(period)}: nothing to set a cap from"
            )
        cap_kg = nearest_rank([kg for _, kg in evidence], pct)
        terms = Terms(
            cap_kg=cap_kg,
            surcharge_satang=satang(preset.surcharge_thb),
            base_satang=satang(base_thb),
            floor_satang=satang(preset.floor_thb),
            tolerance_kg=tolerance_t * KG_PER_TONNE,
        )
        return CapProposal(period, sector, strategy, pct, terms, evidence)

    def set_terms(self, regulator: LocalAccount, period: int, sector: str, terms: Terms) -> TxReceipt:
        fn = self.contract.functions.setTerms(period, enums.index("Sector", sector), terms.as_tuple())
        return self.tx.transact(regulator, fn)

    def terms(self, period: int, sector: str) -> Terms | None:
        t = self.contract.functions.terms(period, enums.index("Sector", sector)).call()
        if not t[5]:
            return None
        return Terms(cap_kg=t[0], surcharge_satang=t[1], base_satang=t[2], floor_satang=t[3], tolerance_kg=t[4])

    # settling -------------------------------------------------------------------------------
    def unsettled(self, period: int) -> list[str]:
        """Registered participants not yet settled for ``period`` whose sector has terms."""
        with_terms = {s for s in enums.members("Sector") if self.terms(period, s) is not None}
        out = []
        for log in self.ledger.registry.events.ParticipantRegistered.get_logs(from_block=self.ledger.from_block):
            wallet = log["args"]["wallet"]
            sector = enums.name("Sector", log["args"]["sector"])
            if sector in with_terms and not self.contract.functions.record(period, wallet).call()[0]:
                out.append(wallet)
        return out

    def settle(
        self, sender: LocalAccount, period: int, participants: list[str], batch: int = SETTLE_BATCH
    ) -> list[TxReceipt]:
        wallets = [wallet_address(p) for p in participants]
        if not wallets:
            raise CarbonixValueError(f"nobody to settle for {period_label(period)}")
        return [
            self.tx.transact(sender, self.contract.functions.settle(period, wallets[i : i + batch]))
            for i in range(0, len(wallets), batch)
        ]

    def pay_debt(
        self, payer: LocalAccount, period: int, participant: str, amount_satang: int, baht: Contract
    ) -> TxReceipt:
        if amount_satang <= 0:
            raise CarbonixValueError("a payment must be positive")
        if baht.functions.allowance(payer.address, self.contract.address).call() < amount_satang:
            self.tx.transact(payer, baht.functions.approve(self.contract.address, amount_satang))
        fn = self.contract.functions.payDebt(period, wallet_address(participant), amount_satang)
        return self.tx.transact(payer, fn)

    def claim_allowance(self, participant: LocalAccount, period: int) -> tuple[int, TxReceipt]:
        receipt = self.tx.transact(participant, self.contract.functions.claimAllowance(period))
        (event,) = self.contract.events.AllowanceClaimed().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["batchId"]), receipt

    def record(self, period: int, participant: str) -> dict[str, Any]:
        r = self.contract.functions.record(period, wallet_address(participant)).call()
        return {
            "settled": r[0],
            "classification": enums.name("Classification", r[1]),
            "allowance_claimed": r[2],
            "allowance_t": r[3],
            "debt_thb": str(thb(r[4])),
        }

    def statements(self, period: int) -> list[dict[str, Any]]:
        """Every participant's settlement of ``period``, from the Settled events."""
        logs = self.contract.events.Settled.get_logs(
            from_block=self.ledger.from_block, argument_filters={"period": period}
        )
        out = []
        for log in logs:
            a = log["args"]
            out.append(
                {
                    "quarter": period_label(period),
                    "participant": a["participant"],
                    "sector": enums.name("Sector", a["sector"]),
                    "emissions_t": str(Decimal(a["emissionsKg"]) / KG_PER_TONNE),
                    "removals_t": str(Decimal(a["removalsKg"]) / KG_PER_TONNE),
                    "cap_t": str(Decimal(a["capKg"]) / KG_PER_TONNE),
                    "compliance_retired_t": str(Decimal(a["complianceRetiredKg"]) / KG_PER_TONNE),
                    "uncovered_t": str(Decimal(a["uncoveredKg"]) / KG_PER_TONNE),
                    "surcharge_thb": str(thb(a["surcharge"])),
                    "base_charge_thb": str(thb(a["baseCharge"])),
                    "allowance_t": a["allowanceTonnes"],
                    "classification": enums.name("Classification", a["classification"]),
                    "tx_hash": log["transactionHash"].to_0x_hex(),
                }
            )
        return out
