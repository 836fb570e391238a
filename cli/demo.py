"""The narrated CarboniX scenario behind ``make demo`` and ``make demo-check``.

It starts fresh local chains in the settings' state folder, deploys, and then drives the product
through the same ``carbonix`` commands a user types, printing each command and its transactions:
TGO publishes its certification lists, a cement exporter, a rice cooperative and a forest community
register and prove their certification, the cooperative registers and certifies a T-VER project,
TGO issues a batch (10 % to the buffer pool), credits move, the exporter retires some for CBAM with
a certificate, and the oracle commits an emission batch and a single record. The oracle daemon then
takes real DustBoy and Air4Thai series, signed by simulated devices, over MQTT (the running broker,
or an in-process one), refuses forged and replayed messages, grades, commits and proves a reading
on-chain, and flags open burning on the rice project. Then a market opens
for the batch: asks, bids, a buy by preference, fills with fees; the quarter closes, its open
orders are reclaimed, the regulator's caps apply and every participant is settled. With ``check`` it
also asserts every outcome against the chain and exits non-zero on any difference.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import paho.mqtt.client as mqtt
from rich.console import Console
from web3 import Web3
from web3.types import RPCEndpoint

from carbonix import chain
from carbonix.config import PROJECT_ROOT, get_settings
from carbonix.context import open_exchange, open_ledger, open_settlement
from carbonix.deployments import local_account, manifest_path
from carbonix.exceptions import CarbonixError
from carbonix.orderbook import period_label
from carbonix.tgo import parse_timestamp
from cli.services import start_service
from oracle import simulator
from oracle.broker import ensure_broker, parse_url
from oracle.emissions import OPEN_BURNING_PM25
from oracle.messages import Domain, sign_message
from oracle.pipeline import sensor_topic

console = Console(highlight=False)
CARBONIX = Path(sys.executable).parent / "carbonix"

PROJECT_ID = "TH-TVER-2025-0042"
SERIAL_PREFIX = f"TVER-{PROJECT_ID}-2025"
ISSUED, BUFFER_BPS = 5000, 1000
ACTORS = {
    "cement": (4, "TGO-ORG-0107", "corporation", "buyer", "industry", "Siam Cement Exports (CBAM exporter)"),
    "coop": (5, "TGO-ORG-2231", "ngo", "seller", "agriculture", "Ban Nong Rice Cooperative"),
    "forest": (6, "TGO-ORG-3310", "ngo", "seller", "forestry", "Doi Suthep Community Forest"),
}
OUTSIDER = 9  # a wallet TGO never certified
DATA = PROJECT_ROOT.parent / "shared" / "data"  # the real public series, read in place


class DemoFailure(CarbonixError):
    """An outcome of the scenario differs from what it must be."""


class Scenario:
    def __init__(self, check: bool) -> None:
        self.check = check
        self.settings = get_settings()
        self.work = self.settings.state_dir / "demo-files"
        self.wallet = {name: local_account(a[0]).address for name, a in ACTORS.items()}

    def say(self, text: str) -> None:
        console.print(f"\n[bold yellow]▸ {text}[/]")

    def run(self, *args: str, expect_error: str | None = None) -> str:
        console.print(f"[dim]$ carbonix {' '.join(args)}[/]")
        result = subprocess.run([str(CARBONIX), *args], capture_output=True, text=True, env=os.environ.copy())
        out = (result.stdout + result.stderr).strip()
        if expect_error:
            flat = " ".join(out.split())  # the console wraps long messages
            if result.returncode == 0 or expect_error not in flat:
                raise DemoFailure(f"expected {expect_error} from `carbonix {' '.join(args)}`, got:\n{out}")
            console.print(f"  [magenta]refused as it must be:[/] {flat.rsplit('error: ', 1)[-1]}")
            return out
        if result.returncode != 0:
            raise DemoFailure(f"`carbonix {' '.join(args)}` failed:\n{out}")
        if out:
            console.print("  " + out.replace("\n", "\n  "))
        return result.stdout

    def expect(self, what: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            raise DemoFailure(f"{what}: expected {wanted!r}, got {actual!r}")
        if self.check:
            console.print(f"  [green]check[/] {what} = {actual!r}")

    def write_lists(self, now: int) -> tuple[Path, Path]:
        self.work.mkdir(parents=True, exist_ok=True)
        orgs, projects = self.work / "tgo-organisations.csv", self.work / "tgo-projects.csv"
        with orgs.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["org_id", "wallet", "certified_until"])
            for name, (_, org_id, *_rest) in ACTORS.items():
                w.writerow([org_id, self.wallet[name], now + 365 * 86400])
        with projects.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["project_id", "owner", "additional"])
            w.writerow([PROJECT_ID, self.wallet["coop"], "true"])
        return orgs, projects

    def write_readings(self, end: int) -> Path:
        """24 hourly kiln fuel-meter readings (diesel litres x 2.68 kg CO2e/L) ending at ``end``."""
        path = self.work / "cement-kiln-readings.csv"
        litres = [
            410,
            395,
            402,
            388,
            420,
            415,
            430,
            441,
            436,
            428,
            419,
            407,
            399,
            404,
            412,
            425,
            433,
            0,
            0,
            418,
            409,
            401,
            397,
            392,
        ]  # two hours of maintenance
        grades = ["A"] * 17 + ["C", "C"] + ["A"] * 4 + ["B"]
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["sensor_id", "sequence", "timestamp", "kg_co2e", "grade"])
            for i, (litre, g) in enumerate(zip(litres, grades, strict=True)):
                w.writerow(["kiln-fuel-meter-01", 1000 + i, end - (23 - i) * 3600, f"{litre * 2.68:.2f}", g])
        return path

    def play(self) -> None:
        s = self.settings
        self.say(f"Fresh local chains in {s.state_dir}: L1 JibChain (8899) and L2 DustBoy (555888)")
        if s.state_dir.exists():
            chain.down(s)
            shutil.rmtree(s.state_dir / "chains", ignore_errors=True)
            shutil.rmtree(s.state_dir / "tgo", ignore_errors=True)
            for stale in s.state_dir.glob("oracle.db*"):  # the oracle's store belongs to the old chains
                stale.unlink()
        self.run("chain", "up")
        self.say("Deploy the CarboniX contracts to L2 (ape script); `carbonix deploy` lists each from its manifest")
        self.run("deploy")
        ledger = open_ledger()
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        orgs, projects = self.write_lists(now)

        self.say("TGO's certification list goes on-chain as a Merkle root (oracle role)")
        self.run("tgo", "publish", "--orgs", str(orgs))
        self.say("Three organisations register their wallets (R1, R2)")
        for index, org_id, kind, role, sector, label in ACTORS.values():
            console.print(f"  [bold]{label}[/]")
            self.run(
                "participants",
                "register",
                "--as",
                str(index),
                "--org-id",
                org_id,
                "--type",
                kind,
                "--role",
                role,
                "--sector",
                sector,
            )
        self.say("Each proves its TGO certification with its Merkle proof")
        self.run("tgo", "proof", ACTORS["coop"][1])
        for name, (index, *_rest) in ACTORS.items():
            self.run("participants", "verify", "--as", str(index))
            self.expect(f"{name} verified", ledger.participant(self.wallet[name])["verified"], True)

        self.say("TGO certifies the cooperative's no-burn rice straw project (additional): a project root")
        self.run("tgo", "publish", "--projects", str(projects))
        self.say("Only the owner TGO listed can register the project id: the exporter cannot squat it")
        register = [
            "projects",
            "register",
            "--id",
            PROJECT_ID,
            "--standard",
            "t_ver",
            "--type",
            "agriculture",
            "--methodology",
            "T-VER-S-METH-13-04",
            "--lat",
            "17.1545",
            "--lon",
            "104.1348",
        ]
        self.run(*register, "--as", "4", expect_error="only the listed owner can register it")
        self.say("The cooperative registers it with its proof: registered and certified in one transaction")
        self.run(*register, "--as", "5")
        self.expect("project certified", ledger.project(PROJECT_ID)["certified"], True)

        self.say(f"TGO issues {ISSUED:,} t of vintage 2025, {BUFFER_BPS / 100:.0f} % withheld for the buffer pool")
        issued = json.loads(
            self.run(
                "credits",
                "issue",
                "--project",
                PROJECT_ID,
                "--vintage",
                "2025",
                "--type",
                "reduction",
                "--serial-prefix",
                SERIAL_PREFIX,
                "--first",
                "1",
                "--last",
                str(ISSUED),
                "--buffer-bps",
                str(BUFFER_BPS),
                "--json",
            )
        )
        batch = issued["batch_id"]
        self.expect("minted to the cooperative", ledger.balance(self.wallet["coop"], int(batch, 16)), 4500)
        self.say("The same serials can never be tokenized twice (CCP #8)")
        self.run(
            "credits",
            "issue",
            "--project",
            PROJECT_ID,
            "--vintage",
            "2025",
            "--serial-prefix",
            SERIAL_PREFIX,
            "--first",
            "4000",
            "--last",
            "6000",
            expect_error="CreditsSerialRangeOverlaps",
        )

        self.say("The cooperative sells 1,200 t to the cement exporter")
        self.run("credits", "transfer", batch, "--to", self.wallet["cement"], "--tonnes", "1200", "--as", "5")
        self.say("Credits cannot go to a wallet TGO has not certified")
        self.run(
            "credits",
            "transfer",
            batch,
            "--to",
            local_account(OUTSIDER).address,
            "--tonnes",
            "1",
            "--as",
            "4",
            expect_error="CreditsReceiverNotVerified",
        )

        self.say("The exporter retires 300 t for its CBAM declaration, then 200 t more (R6)")
        first = json.loads(
            self.run(
                "credits",
                "retire",
                batch,
                "--tonnes",
                "300",
                "--beneficiary",
                "Siam Cement Exports, EU CBAM 2026 Q1",
                "--purpose",
                "cbam",
                "--claim-start",
                "2026-01-01",
                "--claim-end",
                "2026-03-31",
                "--as",
                "4",
                "--json",
            )
        )
        second = json.loads(
            self.run(
                "credits",
                "retire",
                batch,
                "--tonnes",
                "200",
                "--beneficiary",
                "Siam Cement Exports",
                "--purpose",
                "voluntary_offset",
                "--claim-start",
                "2025-01-01",
                "--claim-end",
                "2025-12-31",
                "--as",
                "4",
                "--json",
            )
        )
        self.retirement_tx = first["tx_hash"]
        self.expect("first certificate serials", (first["serial_first"], first["serial_last"]), (1, 300))
        self.expect("second certificate serials", (second["serial_first"], second["serial_last"]), (301, 500))
        self.say("Anyone can rebuild a certificate from its transaction alone")
        cert = json.loads(self.run("credits", "certificate", first["tx_hash"]))
        self.expect("rebuilt certificate", cert, first)
        self.expect("exporter balance", ledger.balance(self.wallet["cement"], int(batch, 16)), 700)
        self.expect("cooperative balance", ledger.balance(self.wallet["coop"], int(batch, 16)), 3300)
        self.expect("batch retired", ledger.batch(int(batch, 16))["retired"], 500)
        self.run(
            "credits",
            "retire",
            batch,
            "--tonnes",
            "701",
            "--beneficiary",
            "x",
            "--claim-start",
            "2026-01-01",
            "--claim-end",
            "2026-03-31",
            "--as",
            "4",
            expect_error="InsufficientBalance",
        )

        self.say("The oracle commits a day of the exporter's kiln fuel-meter readings to the data log (R10)")
        end = self._batch_end(ledger, now)
        readings = self.write_readings(end)
        participant = self.wallet["cement"]
        self.run("datalog", "commit", str(readings), "--participant", participant)
        self.run(
            "datalog",
            "commit",
            str(readings),
            "--participant",
            participant,
            expect_error="DataLogBatchAlreadyCommitted",
        )
        self.run(
            "datalog",
            "log",
            "--participant",
            participant,
            "--kg",
            "1250",
            "--score",
            "92",
            "--at",
            str(end),
            "--lat",
            "14.5289",
            "--lon",
            "100.9101",
        )
        year, quarter = ledger.datalog.functions.quarterOf(end).call()
        with readings.open() as f:
            grams = sum(int(round(float(r["kg_co2e"]) * 1000)) for r in csv.DictReader(f))
        self.expect(
            f"verified emissions {year} Q{quarter} (kg)",
            ledger.emission_total(participant, year, quarter),
            grams // 1000 + 1250,
        )
        self.run("datalog", "total", participant, "--year", str(year), "--quarter", str(quarter))
        self.oracle()
        self.market_and_settlement(batch, year * 4 + quarter - 1)
        self.indexer_and_api()

    def oracle(self) -> None:
        """Issue 4: real sensor series signed by simulated devices, over MQTT, graded, committed, proven."""
        address, embedded = ensure_broker()
        try:
            self._oracle_act(address.url, embedded is not None)
        finally:
            if embedded:
                embedded.stop()

    def _oracle_act(self, broker: str, embedded: bool) -> None:
        ledger = open_ledger()
        where = "an in-process broker (no MQTT broker answered at MQTT_URL)" if embedded else "the MQTT broker"
        self.say(f"The oracle daemon subscribes to every sensor's topic on {where} at {broker}")
        log = self.work / "oracle.log"
        console.print(f"[dim]$ carbonix oracle run --mqtt-url {broker}  (log: {log})[/]")
        daemon = subprocess.Popen(
            [str(CARBONIX), "oracle", "run", "--mqtt-url", broker, "--metrics-port", "0", "--lateness", "0",
             "--settle", "1", "--client-id", f"carbonix-demo-{os.getpid()}"],
            stdout=log.open("w"), stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while "subscribed to" not in log.read_text():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise DemoFailure(f"the oracle daemon did not start:\n{log.read_text()}")
            time.sleep(0.1)
        dustboy = DATA / "dustboy-sakon-4473" / "dustboy_4473_hourly.csv"
        east = DATA / "air4thai-east-raw-hourly" / "air4thai_raw_hourly_15stations_2023-12_2024-02.csv"
        airbkk = DATA / "airbkk-bangkok-raw-hourly" / "airbkk_pm25_hourly_2024_2025_JanApr.csv"
        windows = [(dustboy, "dustboy", "2026-04-11", "2026-04-14"), (east, "air4thai", "2023-12-01", "2023-12-03")]
        bangkok = (airbkk, "airbkk", "2024-01-08", "2024-01-11")
        self.say("The cooperative's field-edge DustBoy sensor publishes 3 days of real PM2.5, signed at the source")
        self.run(
            "sensors", "simulate", "--dataset", str(dustboy), "--from", "2026-04-11", "--to", "2026-04-14",
            "--speed", "86400", "--register-as", "5", "--project", PROJECT_ID, "--mqtt-url", broker,
        )  # fmt: skip
        self.say("Air4Thai stations around Rayong report two days, so neighbours can check each other")
        self.run(
            "sensors", "simulate", "--dataset", str(east), "--from", "2023-12-01", "--to", "2023-12-03",
            "--speed", "0", "--readings-per-message", "24", "--register-as", "4", "--mqtt-url", broker,
        )  # fmt: skip
        self.say("In Bangkok, BMA's Lumpini Park station and PCD's Pathum Wan station (50t, 0.94 km away) report"
                 " three days; PCD stations are reference methods, so a verifier designates it one")  # fmt: skip
        self.run(
            "sensors", "simulate", "--dataset", str(airbkk), "--from", bangkok[2], "--to", bangkok[3],
            "--stations", ",".join(BANGKOK_PAIR), "--locate", f"{BANGKOK_PAIR[1]}={PCD_50T[0]},{PCD_50T[1]}",
            "--speed", "0", "--readings-per-message", "24", "--register-as", "4", "--mqtt-url", broker,
        )  # fmt: skip
        self.say("Forged, replayed and malformed messages are refused, each with its reason")
        self._send_bad_messages(broker, ledger)
        self.say("The daemon grades every reading A-F, seals each day into a Merkle batch and commits it")
        published = [self._window(*w) for w in windows]
        published.append(self._window(*bangkok, pair=True))
        self._wait_for_oracle(daemon, log, sum(n for n, _ in published))
        status = json.loads(self.run("oracle", "status"))
        self.expect("readings stored", sum(status["readings_by_grade"].values()), sum(n for n, _ in published))
        self.expect("readings still provisional", status["provisional"], 0)
        self.expect("messages refused", status["rejected"], {"bad_signature": 1, "replay": 1, "not_json": 1})
        self.expect("every sealed batch committed", set(status["batches"]), {"committed"})
        flags = json.loads(self.run("oracle", "flags"))
        self.expect("open-burning hours flagged on the rice project", len(flags), published[0][1])
        self.say("Lumpini's accuracy against the reference, by the business plan's formula (target 85 %)")
        pairs = json.loads(self.run("oracle", "accuracy", "--json"))
        self.expect("sensors measured against a reference", len(pairs), 1)
        self.expect(
            "hours Lumpini was compared with the PCD station", pairs[0]["comparisons"], self._paired_hours(bangkok)
        )
        console.print(f"  Lumpini Park: {pairs[0]['accuracy_percent']} % over {pairs[0]['comparisons']} hours "
                      f"({pairs[0]['share_at_target']:.0%} of them at or above 85 %)")  # fmt: skip
        self.say("Anyone can prove a stored reading against the batch root on-chain")
        proof = json.loads(self.run("oracle", "prove", "1", "--json"))
        self.expect("reading 1 verified on-chain", proof["verified_on_chain"], True)
        console.print(f"  [dim]check it with only the chain:[/] {proof['check_with']}")

    def _wait_for_oracle(self, daemon: subprocess.Popen[bytes], log: Path, expected: int) -> None:
        """Waits until the daemon stored ``expected`` readings, graded them all and committed every
        batch (or 300 s), then stops it with SIGTERM."""
        from sqlalchemy import func, select

        from oracle import store

        engine = store.open_engine(store.database_url())
        r, b = store.readings.c, store.batches.c
        deadline = time.monotonic() + 300
        try:
            while time.monotonic() < deadline and daemon.poll() is None:
                with engine.connect() as conn:
                    stored = conn.execute(select(func.count()).select_from(store.readings)).scalar_one()
                    provisional = conn.execute(select(func.count()).where(r.provisional.is_(True))).scalar_one()
                    unsealed = conn.execute(select(func.count()).where(r.batch_id.is_(None))).scalar_one()
                    pending = conn.execute(select(func.count()).where(b.status == "pending")).scalar_one()
                if stored >= expected and provisional == 0 and unsealed == 0 and pending == 0:
                    break
                time.sleep(0.5)
        finally:
            engine.dispose()
        if daemon.poll() is not None:
            raise DemoFailure(f"the oracle daemon stopped:\n{log.read_text()}")
        daemon.terminate()
        try:
            code = daemon.wait(30)
        except subprocess.TimeoutExpired as exc:
            daemon.kill()
            raise DemoFailure(f"the oracle daemon did not stop:\n{log.read_text()}") from exc
        if code != 0:
            raise DemoFailure(f"the oracle daemon failed:\n{log.read_text()}")

    def _stations(self, path: Path, fmt: str, since: str, until: str, pair: bool) -> list[simulator.Station]:
        seed = simulator.simulator_seed(self.settings.state_dir)
        start, end = parse_timestamp(since, "from"), parse_timestamp(until, "to")
        only, places = (BANGKOK_PAIR, {BANGKOK_PAIR[1]: PCD_50T}) if pair else (None, None)
        stations, _ = simulator.load_stations(path, fmt, seed, start, end, only=only, locations=places)
        return stations

    def _window(self, path: Path, fmt: str, since: str, until: str, pair: bool = False) -> tuple[int, int]:
        """Readings the simulator publishes for a window (stations with a location), and how many
        of them are PM2.5 above the open-burning threshold."""
        stations = self._stations(path, fmt, since, until, pair)
        rows = [r for st in stations if st.latitude is not None for r in st.rows if r.values]
        hot = sum(1 for r in rows if r.values.get("pm25", 0) > OPEN_BURNING_PM25)
        return len(rows), hot

    def _paired_hours(self, window: tuple[Path, str, str, str]) -> int:
        """Hours of the Bangkok window in which both stations report PM2.5, the reference at least
        at the noise floor (5 ug/m3): each is one comparison (oracle.accuracy)."""
        low, reference = ({r.timestamp: r.values.get("pm25") for r in st.rows} for st in self._stations(*window, True))
        return sum(1 for t, v in low.items() if v is not None and (reference.get(t) or 0) >= 5)

    def _send_bad_messages(self, broker: str, ledger) -> None:  # type: ignore[no-untyped-def]
        """A tampered message, a replayed sequence and a payload that is not JSON, from outside."""
        seed = simulator.simulator_seed(self.settings.state_dir)
        key = simulator.station_key(seed, "4473")
        device = simulator.device_address(key)
        domain = Domain(ledger.w3.eth.chain_id, ledger.datalog.address)
        reading = {"sequence": 1, "timestamp": 1_775_000_000,
                   "values": [{"quantity": "pm25", "unit": "ug/m3", "value": 12, "decimals": 0}]}  # fmt: skip
        replayed = sign_message(key, [reading], domain)
        tampered = json.loads(json.dumps(sign_message(key, [reading | {"sequence": 2_000_000_000}], domain)))
        tampered["readings"][0]["values"][0]["value"] = 1  # after signing: the signature no longer fits
        address = parse_url(broker)
        client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
        client.connect(address.host, address.port)
        client.loop_start()
        for payload in (json.dumps(tampered), json.dumps(replayed), "<reading>42</reading>"):
            client.publish(sensor_topic(device), payload, qos=1).wait_for_publish(10)
        client.loop_stop()
        client.disconnect()
        console.print(f"  published a tampered message, a replayed sequence and an XML payload as {device}")

    def market_and_settlement(self, batch: str, period: int) -> None:
        """Issue 3: a market for the batch, orders, fills, then the quarter closes and settles."""
        ex, st = open_exchange(), open_settlement()
        cement, coop, forest = self.wallet["cement"], self.wallet["coop"], self.wallet["forest"]
        quarter = period_label(period)
        self.say("The regulator opens a market for the batch: band 150-1,500 THB/t (R3), orders of 10 t or more")
        self.run("market", "open", batch, "--floor", "150", "--ceiling", "1500", "--min-tonnes", "10")
        self.say("Traders move credits and (test) baht into the exchange")
        self.run("market", "deposit", "--as", "5", "--market", "1", "--tonnes", "2000")
        for index in ("4", "6"):
            self.run("market", "faucet", "--thb", "400000", "--as", index)
            self.run("market", "deposit", "--as", index, "--thb", "300000")
        self.say("The cooperative offers 500 t at 320 THB/t and 500 t at 350; the forest community bids 300")
        self.run("market", "ask", "1", "--price", "320", "--tonnes", "500", "--as", "5")
        self.run("market", "ask", "1", "--price", "350", "--tonnes", "500", "--as", "5")
        self.run("market", "bid", "1", "--price", "300", "--tonnes", "200", "--as", "6")
        self.run("market", "ask", "1", "--price", "120", "--tonnes", "50", "--as", "5", expect_error="outside market")
        self.run("market", "book", "1")
        self.say("The exporter buys 600 t of agriculture credits, vintage 2025+, for at most 200,000 THB")
        self.run(
            "market", "buy", "--type", "agriculture", "--min-vintage", "2025", "--tonnes", "600",
            "--max-thb", "200000", "--as", "4",
        )  # fmt: skip
        self.expect("exporter's tonnes in the exchange", ex.balances(cement)["credits"].get("1"), 600)
        self.say("The cooperative sells 200 t into the forest community's bid (fee 0.45 % from the seller)")
        self.run("market", "ask", "1", "--price", "300", "--tonnes", "200", "--as", "5")
        self.expect("forest's tonnes", ex.balances(forest)["credits"].get("1"), 200)
        self.run("market", "trades")
        self.run("market", "book", "1")

        self.say(f"The exporter takes 100 t home and retires 10 t for compliance in {quarter} (CB)")
        self.run("market", "withdraw", "--as", "4", "--market", "1", "--tonnes", "100")
        claim_start = st.contract.functions.opensAt(period - 1).call() - st.contract.functions.grace().call()
        now = int(ex.w3.eth.get_block("latest")["timestamp"])
        self.run(
            "credits", "retire", batch, "--tonnes", "10", "--beneficiary", "Siam Cement Exports",
            "--purpose", "compliance", "--claim-start", str(claim_start), "--claim-end", str(now), "--as", "4",
        )  # fmt: skip

        self.say(f"The regulator sets {quarter} terms: a cap per sector, surcharge and floor (Table 3)")
        self.run("caps", "propose", "--quarter", quarter, "--sector", "industry", "--strategy", "moderate")
        self.run(
            "caps", "set", "--quarter", quarter, "--sector", "industry", "--cap-t", "12",
            "--surcharge-thb", "300", "--floor-thb", "150",
        )  # fmt: skip
        for sector, cap in (("agriculture", "50"), ("forestry", "5")):
            self.run(
                "caps", "set", "--quarter", quarter, "--sector", sector, "--cap-t", cap,
                "--surcharge-thb", "150", "--floor-thb", "100",
            )  # fmt: skip
        self.run("settle", "run", "--quarter", quarter, expect_error="SettlementPeriodNotClosed")

        self.say(f"Fast-forward the local chains past the end of {quarter} (local chains only)")
        opens = st.contract.functions.opensAt(period).call()
        for url in (self.settings.l1_url, self.settings.l2_url):
            w3 = Web3(Web3.HTTPProvider(url))
            gap = max(0, opens - int(w3.eth.get_block("latest")["timestamp"])) + 60
            w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [gap])
            w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        self.say("Orders of the closed quarter no longer fill; anyone returns their escrow")
        self.run("market", "reclaim")
        self.expect("open orders after the reclaim", ex.book().stale(ex.current_period()), [])

        self.say(f"Settlement of {quarter}: every participant once, O(1) each (Algorithm 1, lines 1-14)")
        self.run("settle", "run", "--quarter", quarter)
        self.run("settle", "show", "--quarter", quarter)
        self.run("settle", "run", "--quarter", quarter, expect_error="nobody to settle")
        record = st.record(period, cement)
        emissions_kg = st.emissions(cement, period)
        uncovered_kg = max(0, emissions_kg - 12_000 - 10_000)  # cap 12 t, 10 t retired for compliance
        surcharge = -(-uncovered_kg * 30_000 // 1000)  # satang, rounded up
        self.expect("exporter's debt (THB)", record["debt_thb"], str(Decimal(surcharge) / 100))
        self.expect("cooperative's allowance (t)", st.record(period, coop)["allowance_t"], 50)
        self.run("settle", "claim", "--quarter", quarter, "--as", "5")
        self.expect("allowance claimed", st.record(period, coop)["allowance_claimed"], True)

    @staticmethod
    def _batch_end(ledger, now: int) -> int:
        """The latest hour such that a 24 h batch ending there stays inside one TGO quarter."""
        end = now - 60
        while True:
            q_end = ledger.datalog.functions.quarterOf(end).call()
            q_start = ledger.datalog.functions.quarterOf(end - 23 * 3600).call()
            if q_end == q_start:
                return end
            end -= 3600

    def indexer_and_api(self) -> None:
        """Issue 5: the indexer catches up with everything above and follows the chain; the API serves it."""
        import httpx

        s = self.settings
        self.say("The indexer turns every event since the deployment into SQL, then follows the head")
        port = chain.free_port() if self.check else API_PORT
        self.api_url = f"http://127.0.0.1:{port}/v1"
        for stale in s.state_dir.glob("indexer.db*"):  # the index belongs to the old chains
            stale.unlink()
        self.services = {
            "indexer": start_service(s.state_dir, "indexer", ["indexer", "run", "--quiet"]),
            "api": start_service(s.state_dir, "api", ["api", "serve", "--port", str(port), "--log-level", "warning"]),
        }
        console.print(f"[dim]$ carbonix indexer run   |   carbonix api serve --port {port}   "
                      f"(logs in {s.state_dir / 'services'})[/]")  # fmt: skip
        head = open_ledger().w3.eth.block_number
        deadline = time.monotonic() + 120
        health: dict = {}
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{self.api_url}/health", timeout=5).json()
                cursors = [c["cursor_block"] or -1 for c in health["chains"]]
                if cursors and max(cursors) >= head:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            for name, process in self.services.items():
                if process.poll() is not None:
                    raise DemoFailure(f"the {name} stopped:\n{service_log(s.state_dir, name)}")
            time.sleep(0.5)
        else:
            raise DemoFailure(f"the indexer did not reach block {head}: {health}")
        self.expect("indexer caught up with the chain", bool(health), True)
        trades = httpx.get(f"{self.api_url}/markets/1/trades", params={"limit": 500}, timeout=10).json()
        on_chain = open_exchange().trades(1)
        self.expect("trades served by the API", trades["count"], len(on_chain))
        measured = httpx.get(f"{self.api_url}/data-quality/accuracy", timeout=10).json()
        self.expect("sensors measured against a reference, served by the API", measured["count"], 1)
        console.print(f"  [dim]accuracy against reference stations:[/] {self.api_url}/data-quality/accuracy")
        self.say("A retirement certificate as PDF, with a QR code of its transaction")
        pdf = httpx.get(f"{self.api_url}/retirements/{self.retirement_tx}/certificate.pdf", timeout=30)
        self.expect("certificate PDF", (pdf.status_code, pdf.content[:5]), (200, b"%PDF-"))
        path = self.work / "certificate.pdf"
        path.write_bytes(pdf.content)
        console.print(f"  [dim]saved[/] {path}")

    def stop_services(self) -> None:
        for process in getattr(self, "services", {}).values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()

    def where_to_look(self) -> None:
        s = self.settings
        console.print("\n[bold green]Done.[/] The chains keep running for you to explore:")
        console.print(f"  L1 (JibChain, 8899)   {s.l1_url}\n  L2 (DustBoy, 555888)  {s.l2_url}")
        console.print(f"  deployments manifest  {manifest_path(s.network, s)}")
        console.print(f"  TGO trees and proofs  {s.state_dir / 'tgo'}")
        console.print(f"  demo input files      {self.work}")
        console.print(f"  oracle readings (SQL) {s.state_dir / 'oracle.db'}   daemon log {self.work / 'oracle.log'}")
        if hasattr(self, "api_url"):
            console.print(f"  REST API (docs)       {self.api_url}/docs   indexer: {s.state_dir / 'indexer.db'}")
            console.print(f"  certificate PDF       {self.api_url}/retirements/{self.retirement_tx}/certificate.pdf")
            console.print(f"  stop it all           CARBONIX_STATE_DIR={s.state_dir} .venv/bin/carbonix chain down")
        console.print(
            "  try:  export CARBONIX_STATE_DIR="
            + str(s.state_dir)
            + f" CARBONIX_L1_PORT={s.l1_port} CARBONIX_L2_PORT={s.l2_port}"
        )
        console.print(f"        .venv/bin/carbonix participants show {self.wallet['cement']}")
        console.print("        .venv/bin/carbonix oracle status   |   .venv/bin/carbonix oracle prove 1")
        console.print("        .venv/bin/carbonix chain status   |   .venv/bin/carbonix chain down")


API_PORT = 8000
# BMA's Lumpini Park station and PCD's Pathum Wan station in the AirBKK file; the file gives the PCD
# station no coordinates, PCD's own list puts its Pathum Wan station (50t) here.
BANGKOK_PAIR = ("114", "139")
PCD_50T = (13.729852, 100.536501)


def service_log(state: Path, name: str) -> str:
    path = state / "services" / f"{name}.log"
    return path.read_text()[-4000:] if path.exists() else "(no log)"


def run_demo(check: bool = False, stop: bool = False) -> None:
    started = datetime.now(UTC)
    scenario = Scenario(check)
    try:
        scenario.play()
    finally:
        if stop:
            scenario.stop_services()
            chain.down(scenario.settings)
    if not stop:
        scenario.where_to_look()
    console.print(
        f"[dim]scenario took {(datetime.now(UTC) - started).total_seconds():.0f} s; project {PROJECT_ROOT}[/]"
    )
