"""Gas benchmark: ``gasUsed`` of real transactions on a fresh local anvil, the way the paper measured.

Starts its own L1/L2 on spare ports in a temporary state folder, deploys through the ape script,
sends one transaction per operation (the scenario of each key is in ``bench/gas-budgets.json``),
and writes ``bench/results/gas.json`` with the paper's Table 1c figures and the budgets beside
each measurement. Exits 1 if any figure is above its budget: the same budgets that forge test
holds the same scenarios to in ``make test`` (tests/forge/Gas.t.sol, MarketGas.t.sol,
Settlement.t.sol). Gas is deterministic, so one run is the figure (a few dozen gas move between
runs where the calldata holds the run's timestamps).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "gas.json"

# key -> the paper's Table 1c figure beside ours ("-": none). Budgets and scenarios: bench/gas-budgets.json.
REFERENCE = {
    "register_participant": "121,108-123,908",
    "verify_participant": "55,347-72,459",
    "register_project": "-",
    "issue_batch_first_in_namespace": "55,043 (mint)",
    "issue_batch": "55,043 (mint)",
    "transfer": "-",
    "retire": "32,430 (bare burn)",
    "log_emission_batch_1000_first_of_year": "209,959 per record",
    "log_emission_batch_1000": "209,959 per record",
    "batch_commit_gas_1000": "209,959 per record",
    "batch_commit_gas_1000_quorum_2_of_3": "-",
    "log_emission_single": "209,959",
    "deploy_total": "3,523,136 (3 contracts)",
}


def _use_bench_chains(l1_port: int, l2_port: int, block_time: int = 0) -> Path:
    """Points carbonix at fresh chains in a temporary state folder on the given ports
    (``block_time`` 0: a block per transaction)."""
    state = Path(tempfile.mkdtemp(prefix="carbonix-bench-"))
    os.environ.update(
        CARBONIX_STATE_DIR=str(state),
        CARBONIX_L1_PORT=str(l1_port),
        CARBONIX_L2_PORT=str(l2_port),
        CARBONIX_NETWORK="l2-local",
        CARBONIX_BLOCK_TIME=str(block_time),
    )
    from carbonix.config import get_settings

    get_settings.cache_clear()
    return state


def _quarter_safe_start(ledger: Any, now: int) -> int:
    """A start time about 2 h back whose 1,000 readings (3 s apart) stay inside one quarter."""
    start = now - 2 * 3600
    _, q_start = ledger.datalog.functions.quarterOf(start).call()
    _, q_now = ledger.datalog.functions.quarterOf(now - 60).call()
    if q_start != q_now:  # keep the benchmark's batches inside one quarter
        start = now - 60 - 1000 * 3
    return start


def batch_of_1000(participant: str, start: int, offset: int) -> Any:
    """A batch of 1,000 graded readings of one stack (sequence numbers from ``offset``)."""
    from carbonix.readings import GRADES, Reading, build_batch

    readings = [
        Reading("stack-co2-01", offset + i, start + (i * 3) % 3000, 2500 + i % 50, GRADES[i % 3]) for i in range(1000)
    ]
    return build_batch(participant, readings)[0]


def commit_gas(ledger: Any, admin: Any, oracle: Any, participant: str, start: int) -> dict[str, int]:
    """gasUsed of one commit of 1,000 readings: the participant's first of the year (quorum 1,
    ``log_emission_batch_1000_first_of_year``, creates the year's totals slot), then the next one
    (quorum 1, ``batch_commit_gas_1000``, updates it as steady state does), then one sent by a
    relayer with 2 of 3 operator signatures (operator 3 down) after a signed warm-up commit of the
    same participant and quarter. Expects a deployment at quorum 1 with ``oracle`` an operator and
    ``participant`` registered, and no commit of ``participant`` this year; leaves the quorum at 1
    with two more operators granted."""
    from eth_account import Account
    from eth_utils import keccak

    from carbonix import quorum

    gas = {
        "log_emission_batch_1000_first_of_year": ledger.commit_emission_batch(
            oracle, batch_of_1000(participant, start, 0)
        ),
        "batch_commit_gas_1000": ledger.commit_emission_batch(oracle, batch_of_1000(participant, start, 1000)),
    }

    operators = [oracle, *(Account.from_key(keccak(text=f"bench operator {i}")) for i in (2, 3))]
    role = ledger.datalog.functions.REPORTER_ROLE().call()
    for op in operators[1:]:
        ledger.tx.transact(admin, ledger.datalog.functions.grantRole(role, op.address))
    ledger.set_quorum(admin, 2)
    chain_id, datalog = ledger.w3.eth.chain_id, ledger.datalog.address
    relayer = admin  # any funded account: the signatures authorize the commit
    for offset in (2000, 3000):
        batch = batch_of_1000(participant, start, offset)
        signatures = [quorum.sign_batch(op.key, batch, chain_id, datalog) for op in operators[:2]]
        receipt = ledger.commit_emission_batch(relayer, batch, signatures)
    gas["batch_commit_gas_1000_quorum_2_of_3"] = receipt
    ledger.set_quorum(admin, 1)
    return {key: int(receipt["gasUsed"]) for key, receipt in gas.items()}


def measure_commit_gas() -> dict[str, int]:
    """The data-log commit figures of ``commit_gas`` on chains of their own (own ports, temporary
    state)."""
    state = _use_bench_chains(18746, 19746)
    from carbonix import chain, tgo
    from carbonix.config import get_settings
    from carbonix.context import account, open_ledger
    from carbonix.deployments import run_deploy

    settings = get_settings()
    chain.up(settings)
    try:
        run_deploy(settings=settings, capture=True)
        ledger = open_ledger()
        oracle, firm = account("oracle"), account("4")
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        store = tgo.CertificationStore(state / "tgo")
        tgo.publish(ledger, oracle, store, [tgo.OrgCertification("TGO-ORG-0000", firm.address, now + 365 * 86400)])
        ledger.register_participant(firm, "TGO-ORG-0000", "corporation", "both", "industry")
        return commit_gas(ledger, account("admin"), oracle, firm.address, _quarter_safe_start(ledger, now))
    finally:
        chain.down(settings)


def measure() -> tuple[dict[str, int], dict[str, str]]:
    """gasUsed of every key (and the supporting figures), and notes on what some keys counted."""
    state = _use_bench_chains(18745, 19745)
    from eth_account import Account

    from carbonix import chain, tgo
    from carbonix.config import get_settings
    from carbonix.context import account, open_ledger
    from carbonix.deployments import run_deploy
    from carbonix.ledger import IssueRequest

    settings = get_settings()
    chain.up(settings)
    try:
        deployment = run_deploy(settings=settings, capture=True)
        gas: dict[str, int] = {}
        manifest = deployment.manifest
        gas["deploy_total"] = sum(
            int(tx.get("gas_used", 0))
            for tx in [*manifest["contracts"].values(), *manifest["grants"], *manifest.get("calls", [])]
        )
        notes = {
            "deploy_total": f"{len(manifest['contracts'])} contracts ({', '.join(manifest['contracts'])}), "
            f"{len(manifest['grants'])} role grants, {len(manifest.get('calls', []))} wiring calls"
        }
        ledger = open_ledger()
        w3 = ledger.w3
        oracle, tgo_key = account("oracle"), account("tgo")
        now = int(w3.eth.get_block("latest")["timestamp"])

        # 1,024 certified organisations; the first four are real funded wallets we use.
        users = [account(str(i)) for i in range(4, 8)]
        extra = [Account.create() for _ in range(1024 - len(users))]
        orgs = [
            tgo.OrgCertification(f"TGO-ORG-{i:04d}", a.address, now + 365 * 86400) for i, a in enumerate(users + extra)
        ]
        store = tgo.CertificationStore(state / "tgo")
        tgo.publish(ledger, oracle, store, orgs)
        for i, user in enumerate(users):
            r = ledger.register_participant(user, orgs[i].org_id, "corporation", "both", "industry")
            if i == 1:
                gas["register_participant"] = r["gasUsed"]
        for i, user in enumerate(users):
            entry = store.participant_proof(user.address)
            assert len(entry["proof"]) == 10, "a 1,024-leaf tree gives 10-node proofs"
            r = ledger.verify_participant(user, user.address, orgs[i].org_id, orgs[i].certified_until, entry["proof"])
            if i == 1:
                gas["verify_participant"] = r["gasUsed"]

        owner = users[0]
        tgo.publish(
            ledger, oracle, store, projects=[tgo.ProjectCertification("TH-TVER-2025-0001", owner.address, True)]
        )
        proof = store.project_proof("TH-TVER-2025-0001")["proof"]
        gas["register_project"] = ledger.register_project(
            owner, "TH-TVER-2025-0001", "t_ver", "forestry", "T-VER-S-METH-13-01", 18.79, 98.98, True, proof
        )["gasUsed"]
        prefix = "TVER-TH-TVER-2025-0001-2025"
        (first,) = ledger.issue_batches(
            tgo_key, [IssueRequest("TH-TVER-2025-0001", 2025, "removal", prefix, 1, 10_000, 1000)]
        )
        gas["issue_batch_first_in_namespace"] = w3.eth.get_transaction_receipt(first.tx_hash)["gasUsed"]
        (batch,) = ledger.issue_batches(
            tgo_key, [IssueRequest("TH-TVER-2025-0001", 2025, "removal", prefix, 10_001, 20_000, 1000)]
        )
        gas["issue_batch"] = w3.eth.get_transaction_receipt(batch.tx_hash)["gasUsed"]
        gas["transfer"] = ledger.transfer(owner, users[1].address, batch.batch_id, 2_000)["gasUsed"]
        ledger.retire(users[1], batch.batch_id, 100, "warm-up", "voluntary_offset", now, now)
        cert = ledger.retire(users[1], batch.batch_id, 250, "Siam Cement Exports", "cbam", now - 86400 * 90, now)
        gas["retire"] = w3.eth.get_transaction_receipt(cert.tx_hash)["gasUsed"]

        participant = users[2].address
        commits = commit_gas(ledger, account("admin"), oracle, participant, _quarter_safe_start(ledger, now))
        gas.update(commits)
        gas["log_emission_batch_1000"] = commits["batch_commit_gas_1000"]  # the same 1-of-1 commit
        ledger.log_emission(oracle, participant, None, 13.7, 100.5, 1200, 90, now - 30)
        gas["log_emission_single"] = ledger.log_emission(oracle, participant, None, 13.7, 100.5, 1300, 90, now - 29)[
            "gasUsed"
        ]
        sys.path.insert(0, str(ROOT / "bench"))
        import market_gas

        gas.update(market_gas.measure(users, extra, store, orgs, account, lambda m: print(f"  {m}", flush=True)))
        return gas, notes
    finally:
        chain.down(settings)


def main() -> int:
    started = time.time()
    gas, notes = measure()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import market_gas

    from bench.report import gas_budgets, gas_limit

    budgets = gas_budgets()
    reference = {**REFERENCE, **market_gas.REFERENCE}
    missing = sorted(set(reference) ^ set(budgets))
    if missing:
        raise SystemExit(f"bench/gas-budgets.json and the REFERENCE tables disagree on: {', '.join(missing)}")
    rows = []
    failed = []
    for key, paper in reference.items():
        value = int(gas[key])
        target = gas_limit(key, gas)
        ok = target is None or value <= target
        if not ok:
            failed.append(key)
        budget = budgets[key]
        what = f"{notes[key]}: {budget['scenario']}" if key in notes else budget["scenario"]
        if "max_percent_of" in budget:
            relative = budget["max_percent_of"]
            what += f" (target {relative['percent']} % of {relative['key']})"
        rows.append(
            {
                "key": key,
                "gas_used": value,
                "paper_table_1c": paper,
                "target": target,
                "meets_target": ok,
                "measures": what,
                **({"bounds": budget["bounds"]} if "bounds" in budget else {}),
            }
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing.update({r["key"]: r for r in rows})
    width = max(len(r["key"]) for r in rows) + 2
    print(f"\n{'operation':<{width}}{'gasUsed':>12}  {'paper (Table 1c)':<24}{'target':>10}  ok")
    for r in rows:
        shown = "report" if r["target"] is None else f"<={r['target']:,}"
        print(
            f"{r['key']:<{width}}{r['gas_used']:>12,}  {r['paper_table_1c']:<24}{shown:>10}  "
            f"{'yes' if r['meets_target'] else 'NO'}"
        )
    extra = {k: v for k, v in gas.items() if k not in reference}
    existing["supporting"] = extra
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")
    print(f"supporting figures: {extra}")
    print(f"\nwrote {RESULTS.relative_to(ROOT)} in {time.time() - started:.0f} s")
    if failed:
        print(f"above target: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
