"""The data log's m-of-n operator quorum on real anvil: 2-of-3 with one operator down and one
signing a different digest, the plain path refused under a quorum, replays, and the EIP-712 digest
computed three ways (the contract, carbonix.quorum, eth_account's typed-data encoder)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from carbonix import eip712, quorum
from carbonix.config import Settings
from carbonix.context import account, open_ledger
from carbonix.deployments import Deployment
from carbonix.emission_batch import EmissionBatchInput
from carbonix.exceptions import CarbonixValueError, ContractRevertError
from carbonix.ledger import Ledger
from carbonix.readings import Reading, build_batch
from carbonix.tgo import CertificationStore, OrgCertification, publish

ZERO = b"\0" * 32


@dataclass
class World:
    ledger: Ledger
    admin: LocalAccount
    operators: list[LocalAccount]  # operator 1 is the deployed oracle; 2 and 3 are granted here
    relayer: LocalAccount  # a funded account with no role at all
    participant: str
    now: int


@pytest.fixture(scope="module")
def world(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        ledger = open_ledger(chains)
        admin, oracle = account("admin", settings=chains), account("oracle", settings=chains)
        firm, relayer = account("12", settings=chains), account("13", settings=chains)
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        store = CertificationStore(tmp_path_factory.mktemp("tgo-quorum"))
        publish(ledger, oracle, store, orgs=[OrgCertification("QU-ORG-012", firm.address, now + 365 * 86400)])
        ledger.register_participant(firm, "QU-ORG-012", "corporation", "both", "industry")
        # Operators only sign: they need no ether. Keys derived from fixed seeds, for repeatable runs.
        operators = [oracle, *(Account.from_key(keccak(text=f"quorum operator {i}")) for i in (2, 3))]
        role = ledger.datalog.functions.REPORTER_ROLE().call()
        for op in operators[1:]:
            ledger.tx.transact(admin, ledger.datalog.functions.grantRole(role, op.address))
        yield World(ledger, admin, operators, relayer, firm.address, now)
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def quorum_of_two(world: World) -> Iterator[World]:
    """The world with m = 2, set back to 1 afterwards."""
    world.ledger.set_quorum(world.admin, 2)
    yield world
    world.ledger.set_quorum(world.admin, 1)


def _batch(world: World, tag: str, grams: int = 2_500) -> EmissionBatchInput:
    readings = [Reading(f"kiln-{tag}", i, world.now - 600 + i * 60, grams + i, "A") for i in range(8)]
    return build_batch(world.participant, readings)[0]


def _sign(world: World, op: LocalAccount, batch: EmissionBatchInput) -> bytes:
    return quorum.sign_batch(op.key, batch, world.ledger.w3.eth.chain_id, world.ledger.datalog.address)


def test_deployed_with_one_operator_and_quorum_one(deployment: Deployment, chains: Settings) -> None:
    ledger = open_ledger(chains)
    assert ledger.quorum() == 1
    assert ledger.operators() == [account("oracle", settings=chains).address]


def test_digest_matches_contract_and_eth_account(world: World) -> None:
    ledger = world.ledger
    batch = replace(_batch(world, "digest"), flow="removal", project_id=None)
    chain_id, datalog = ledger.w3.eth.chain_id, ledger.datalog.address
    digest = quorum.batch_digest(batch, chain_id, datalog)
    assert ledger.datalog.functions.batchDigest(batch.as_tuple()).call() == digest == ledger.batch_digest(batch)
    assert ledger.datalog.functions.EMISSION_BATCH_TYPEHASH().call() == quorum.EMISSION_BATCH_TYPEHASH
    names = [
        "batchId",
        "participant",
        "projectKey",
        "periodStart",
        "periodEnd",
        "readingCount",
        "readingsRoot",
        "kgCO2e",
        "qualityScore",
        "gradeCounts",
        "flow",
    ]
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "EmissionBatch": [{"name": n, "type": t} for n, t in zip(names, quorum.FIELD_TYPES, strict=True)],
        },
        "primaryType": "EmissionBatch",
        "domain": {"name": quorum.DOMAIN_NAME, "version": "1", "chainId": chain_id, "verifyingContract": datalog},
        "message": dict(zip(names, batch.as_tuple(), strict=True)),
    }
    signable = encode_typed_data(full_message=typed)
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == digest
    # An operator's signature recovers to it, with eth_account as with carbonix.quorum.
    op = world.operators[1]
    sig = _sign(world, op, batch)
    assert Account.recover_message(signable, signature=sig) == op.address
    assert quorum.recover_signer(digest, sig) == op.address
    # Another chain or another data log is another digest.
    assert quorum.batch_digest(batch, chain_id + 1, datalog) != digest
    assert quorum.batch_digest(batch, chain_id, world.participant) != digest


def test_two_of_three_with_one_down_and_one_wrong(quorum_of_two: World) -> None:
    """The issue's scenario: operator 3 is down (no signature); operator 2 first signs a batch with
    another kg CO2e, then the right one."""
    world = quorum_of_two
    ledger = world.ledger
    op1, op2, _op3_down = world.operators
    assert ledger.quorum() == 2
    batch = _batch(world, "2of3")
    wrong = replace(batch, kg_co2e=batch.kg_co2e + 1)
    before = ledger.emission_total(world.participant, *_year_quarter(ledger, batch.period_start))

    # The plain path is closed under a quorum, even for an operator.
    with pytest.raises(ContractRevertError) as exc:
        ledger.commit_emission_batch(op1, batch)
    assert (exc.value.name, exc.value.error_args) == ("DataLogQuorumRequired", (2,))

    # op2's signature of the other digest counts for nobody: refused, nothing stored.
    with pytest.raises(ContractRevertError) as exc:
        ledger.commit_emission_batch(world.relayer, batch, [_sign(world, op1, batch), _sign(world, op2, wrong)])
    assert exc.value.name == "DataLogSignerNotOperator"
    assert to_checksum_address(exc.value.error_args[0]) not in {op.address for op in world.operators}
    # One valid signature is not a quorum.
    with pytest.raises(ContractRevertError) as exc:
        ledger.commit_emission_batch(world.relayer, batch, [_sign(world, op1, batch)])
    assert (exc.value.name, exc.value.error_args) == ("DataLogQuorumNotMet", (1, 2))
    assert ledger.datalog.functions.readingsRoot(batch.batch_id).call() == ZERO

    # op1 and op2 over the same digest, in any order: a relayer with no role commits it.
    signatures = [_sign(world, op2, batch), _sign(world, op1, batch)]
    receipt = ledger.commit_emission_batch(world.relayer, batch, signatures)
    assert receipt["status"] == 1 and receipt["from"] == world.relayer.address
    assert ledger.datalog.functions.readingsRoot(batch.batch_id).call() == batch.readings_root
    after = ledger.emission_total(world.participant, *_year_quarter(ledger, batch.period_start))
    assert after == before + batch.kg_co2e

    # The same signatures again: the batch id commits once.
    with pytest.raises(ContractRevertError) as exc:
        ledger.commit_emission_batch(world.relayer, batch, signatures)
    assert exc.value.name == "DataLogBatchAlreadyCommitted"
    # ...and they do not carry over to the other batch.
    with pytest.raises(ContractRevertError) as exc:
        ledger.commit_emission_batch(world.relayer, wrong, signatures)
    assert exc.value.name == "DataLogSignerNotOperator"


def test_duplicate_signature_and_outsider_refused(quorum_of_two: World) -> None:
    world = quorum_of_two
    ledger, (op1, _, _) = world.ledger, world.operators
    batch = _batch(world, "dup")
    sig = _sign(world, op1, batch)
    with pytest.raises(ContractRevertError) as exc:
        ledger.commit_emission_batch(world.relayer, batch, [sig, sig])
    assert exc.value.name == "DataLogSignersNotAscending"
    assert [to_checksum_address(a) for a in exc.value.error_args] == [op1.address, op1.address]
    outsider = Account.from_key(keccak(text="not an operator"))
    with pytest.raises(ContractRevertError) as exc:
        ledger.commit_emission_batch(world.relayer, batch, [sig, _sign(world, outsider, batch)])
    assert exc.value.name == "DataLogSignerNotOperator"
    assert to_checksum_address(exc.value.error_args[0]) == outsider.address


def test_quorum_one_keeps_the_plain_path_and_admin_sets_quorum(world: World) -> None:
    ledger, (op1, op2, _) = world.ledger, world.operators
    assert ledger.quorum() == 1
    ledger.commit_emission_batch(op1, _batch(world, "solo"))
    # With m = 1 one operator's signature also suffices, sent by anyone.
    relayed = _batch(world, "relayed")
    ledger.commit_emission_batch(world.relayer, relayed, [_sign(world, op2, relayed)])
    assert ledger.datalog.functions.readingsRoot(relayed.batch_id).call() == relayed.readings_root
    with pytest.raises(ContractRevertError) as exc:
        ledger.set_quorum(op1, 2)  # operators do not set their own quorum
    assert exc.value.name == "AccessControlUnauthorizedAccount"
    with pytest.raises(ContractRevertError) as exc:
        ledger.set_quorum(world.admin, 17)
    assert (exc.value.name, exc.value.error_args) == ("DataLogInvalidQuorum", (17,))
    assert ledger.quorum() == 1


def test_sign_batch_is_low_s_and_recovery_refuses_malleable_twins(world: World) -> None:
    batch = _batch(world, "sig")
    chain_id, datalog = world.ledger.w3.eth.chain_id, world.ledger.datalog.address
    digest = quorum.batch_digest(batch, chain_id, datalog)
    for i in range(16):
        key = keccak(text=f"signer {i}")
        sig = quorum.sign_batch(key, batch, chain_id, datalog)
        r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
        assert len(sig) == 65 and v in (27, 28) and s <= eip712.SECP256K1_N // 2
        assert quorum.recover_signer(digest, sig) == Account.from_key(key).address
        twin = r + (eip712.SECP256K1_N - s).to_bytes(32, "big") + bytes([v ^ 1])
        with pytest.raises(CarbonixValueError):
            quorum.recover_signer(digest, twin)
    with pytest.raises(CarbonixValueError):
        quorum.recover_signer(digest, sig[:64])


def _year_quarter(ledger: Ledger, timestamp: int) -> tuple[int, int]:
    year, q = ledger.datalog.functions.quarterOf(timestamp).call()
    return int(year), int(q)
