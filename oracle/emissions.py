"""Grams of CO2e in a reading, by the sensor's method, and open-burning flags from PM2.5.

Methods by sensor type:
- ``co2_flux`` (and a ``ch4_flux`` measurement on any sensor): a rate in kg/h, integrated over the
  interval since the sensor's previous reading (at most ``MAX_FLUX_HOURS`` hours, the expected
  interval for the first reading) and multiplied by the gas's GWP. A negative CO2 flux is uptake:
  the reading counts as a removal.
- ``fuel_meter`` / ``energy_meter``: each reading carries what was consumed since the previous one
  (litres, kg, GJ, kWh); grams = amount x the emission factor of that quantity.
- Every other type (pm25, pm10, co2 and ch4 concentrations, temperature, humidity ...) measures
  air, not an emission: no CO2e.

PM2.5 carries no CO2e, but a reading above ``OPEN_BURNING_PM25`` ug/m3 from a sensor on an
agriculture project raises an ``open_burning`` flag for that project and hour.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from carbonix.exceptions import CarbonixValueError

DEFAULT_FACTORS_FILE = Path(__file__).with_name("emission_factors.toml")
MAX_FLUX_HOURS = 2
# Thailand's 24-hour PM2.5 standard is 37.5 ug/m3 (2023), and above 75 ug/m3 its air-quality index
# reaches its top band ("affects health"). An hourly value above that at a field's edge points at
# a fire nearby.
OPEN_BURNING_PM25 = 75
METER_TYPES = ("fuel_meter", "energy_meter")


@dataclass(frozen=True)
class Factor:
    unit: str
    kg_co2e_per_unit: Decimal


@dataclass(frozen=True)
class EmissionFactors:
    factors: dict[str, Factor]
    flux_gwp: dict[str, Decimal]

    @classmethod
    def load(cls, path: str | Path | None = None) -> EmissionFactors:
        path = Path(path or os.environ.get("ORACLE_EMISSION_FACTORS") or DEFAULT_FACTORS_FILE)
        return _load(path)


@cache
def _load(path: Path) -> EmissionFactors:
    if not path.is_file():
        raise CarbonixValueError(f"{path}: no such emission-factor table")
    try:
        data = tomllib.loads(path.read_text())
        factors = {
            name: Factor(str(f["unit"]), Decimal(str(f["kg_co2e_per_unit"])))
            for name, f in data.get("factors", {}).items()
        }
        gwp = {name: Decimal(str(v)) for name, v in data.get("flux_gwp", {}).items()}
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ArithmeticError) as exc:
        raise CarbonixValueError(f"{path}: malformed emission-factor table ({exc})") from exc
    for name, factor in factors.items():
        if factor.kg_co2e_per_unit < 0:
            raise CarbonixValueError(f"{path}: the factor for {name} is negative")
    return EmissionFactors(factors, gwp)


@dataclass(frozen=True)
class Co2e:
    grams: int  # signed: negative is a removal
    notes: tuple[str, ...]


def reading_co2e(
    sensor_type: str,
    values: dict[str, tuple[str, Decimal]],
    seconds_since_previous: int | None,
    expected_interval: int,
    table: EmissionFactors,
) -> Co2e:
    """CO2e of one reading; ``values`` maps quantity -> (unit, amount)."""
    grams = Decimal(0)
    notes: list[str] = []
    for quantity, (unit, amount) in values.items():
        if quantity in table.flux_gwp:
            seconds = expected_interval if seconds_since_previous is None else seconds_since_previous
            hours = min(Decimal(seconds) / 3600, Decimal(MAX_FLUX_HOURS))
            grams += amount * hours * table.flux_gwp[quantity] * 1000
        elif sensor_type in METER_TYPES:
            factor = table.factors.get(quantity)
            if factor is None or factor.unit != unit:
                notes.append(f"co2e: no emission factor for {quantity} in {unit}; configure one")
                continue
            if amount < 0:
                notes.append(f"co2e: negative meter amount {quantity} = {amount} counted as zero")
                continue
            grams += amount * factor.kg_co2e_per_unit * 1000
    return Co2e(int(grams), tuple(notes))


def open_burning(project_type: str, values: dict[str, tuple[str, Decimal]]) -> str | None:
    """The flag detail when an agriculture project's PM2.5 reading points at open burning."""
    pm25 = values.get("pm25")
    if project_type != "agriculture" or pm25 is None or pm25[1] <= OPEN_BURNING_PM25:
        return None
    return f"pm25 {pm25[1]} ug/m3 > {OPEN_BURNING_PM25} on an agriculture project"
