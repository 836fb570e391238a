"""What a request may say: path parameter types and the query models (unknown fields are a 422).

Inputs are checked here and converted to the database's forms: addresses to EIP-55 checksums
(all-lowercase and all-uppercase hex are accepted as well; mixed case must be a valid checksum),
256-bit ids to ``0x`` + 64 lowercase hex digits (shorter hex, as ``hex()`` prints them, is padded),
transaction hashes to lowercase, quarters (``2026Q4``) to period numbers. Free text refuses
control characters, which no id contains and PostgreSQL cannot store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from eth_utils import keccak, to_checksum_address
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from carbonix import enums
from carbonix.orderbook import parse_period
from oracle import accuracy

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
U256_PATTERN = r"^0x[0-9a-fA-F]{1,64}$"
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
QUARTER_PATTERN = r"^[0-9]{4}Q[1-4]$"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
MAX_TIME = 2**40 - 1  # uint40, the contracts' widest timestamp
MAX_OFFSET = 1_000_000_000

_ADDRESS = re.compile(ADDRESS_PATTERN)
_U256 = re.compile(U256_PATTERN)
_HASH = re.compile(HASH_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)


def address(value: str) -> str:
    """The EIP-55 checksum form of an address, or a ValueError that says what is wrong."""
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value[:80]!r} is not an address: expected 0x and 40 hex digits")
    digits = value[2:]
    checksummed = to_checksum_address(value)
    if digits != digits.lower() and digits != digits.upper() and value != checksummed:
        raise ValueError(f"{value!r} has a wrong EIP-55 checksum (mixed case must be the checksum; or use lowercase)")
    return checksummed


def u256(value: str) -> str:
    if not _U256.fullmatch(value):
        raise ValueError(f"{value[:80]!r} is not an id: expected 0x and 1-64 hex digits")
    return f"0x{int(value, 16):064x}"


def tx_hash(value: str) -> str:
    if not _HASH.fullmatch(value):
        raise ValueError(f"{value[:80]!r} is not a transaction hash: expected 0x and 64 hex digits")
    return value.lower()


def quarter(value: str) -> int:
    if not re.fullmatch(QUARTER_PATTERN, value):
        raise ValueError(f"{value[:80]!r} is not a quarter: expected YYYYQn, e.g. 2026Q4")
    return parse_period(value)


def project_key(value: str) -> str:
    """A project id (``TH-TVER-...``) or its key (``0x`` + 64 hex digits) as the key."""
    if _HASH.fullmatch(value):
        return value.lower()
    return "0x" + keccak(text=value).hex()


def _text(value: str) -> str:
    if not _TEXT.fullmatch(value):
        raise ValueError("control characters are not allowed")
    return value


def _schema(pattern: str, description: str, example: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "description": description, "examples": [example]})


Address = Annotated[
    str,
    AfterValidator(address),
    _schema(ADDRESS_PATTERN, "An address: EIP-55 checksum, or all lowercase.", "0x" + "ab" * 20),
]
U256 = Annotated[
    str,
    AfterValidator(u256),
    _schema(U256_PATTERN, "A 256-bit id in hex (credit batch, order).", "0x" + "0" * 63 + "1"),
]
TxHash = Annotated[str, AfterValidator(tx_hash), _schema(HASH_PATTERN, "A transaction hash.", "0x" + "ab" * 32)]
Quarter = Annotated[
    str,
    AfterValidator(quarter),
    _schema(QUARTER_PATTERN, "A TGO quarter in Thai time: YYYYQn.", "2026Q4"),
]
ProjectRef = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=TEXT_PATTERN),
    AfterValidator(_text),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "pattern": TEXT_PATTERN,
            "description": "A project id (TH-TVER-...) or its key (0x and 64 hex digits).",
        }
    ),
]


def _enum(name: str, solidity: str) -> type[StrEnum]:
    return StrEnum(name, {member: member for member in enums.members(solidity)})  # type: ignore[return-value]


class Interval(StrEnum):
    minute = "1m"
    hour = "1h"
    day = "1d"


class SeriesInterval(StrEnum):
    day = "day"
    month = "month"
    quarter = "quarter"


Flow = _enum("Flow", "Flow")


# --- optional query parameters ----------------------------------------------------------------------
# An optional filter is either given or absent, never "null": its schema has no null branch, and a
# bad value is one error that says what is wrong (not one per member of a str | None union).
def _given(check: Callable[[str], Any]) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("expected text")
        return check(value)

    return validate


def _member_of(solidity: str) -> Callable[[str], str]:
    members = enums.members(solidity)

    def check(value: str) -> str:
        if value not in members:
            raise ValueError(f"{value[:80]!r} is not one of {', '.join(members)}")
        return value

    return check


def _enum_schema(members: tuple[str, ...]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(members)})


def _integer(minimum: int, maximum: int) -> Callable[[str], int]:
    def check(value: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,20}", value.strip()):
            raise ValueError(f"{value[:80]!r} is not an integer")
        number = int(value)
        if not minimum <= number <= maximum:
            raise ValueError(f"{number} is not in {minimum}..{maximum}")
        return number

    return check


def _integer_schema(minimum: int, maximum: int, description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "integer", "minimum": minimum, "maximum": maximum, "description": description})


def _text_of(max_length: int, min_length: int = 0) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not min_length <= len(value) <= max_length:
            raise ValueError(f"expected {min_length}-{max_length} characters")
        return _text(value)

    return check


def _text_schema(max_length: int, min_length: int = 0, description: str = "") -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", "minLength": min_length, "maxLength": max_length}
    return WithJsonSchema({**schema, "pattern": TEXT_PATTERN, **({"description": description} if description else {})})


def _enum_alias(solidity: str) -> Any:
    return (BeforeValidator(_given(_member_of(solidity))), _enum_schema(enums.members(solidity)))


PROJECT_DESCRIPTION = "A project id (TH-TVER-...) or its key (0x and 64 hex digits)."
OptAddress = Annotated[
    str | None,
    BeforeValidator(_given(address)),
    WithJsonSchema({"type": "string", "pattern": ADDRESS_PATTERN, "description": "An address."}),
]
OptU256 = Annotated[
    str | None,
    BeforeValidator(_given(u256)),
    WithJsonSchema({"type": "string", "pattern": U256_PATTERN, "description": "A 256-bit id in hex."}),
]
OptQuarter = Annotated[
    int | None,
    BeforeValidator(_given(quarter)),
    WithJsonSchema({"type": "string", "pattern": QUARTER_PATTERN, "description": "A quarter: YYYYQn."}),
]
OptProject = Annotated[str | None, BeforeValidator(_given(_text_of(128, 1))), _text_schema(128, 1, PROJECT_DESCRIPTION)]
OptText = Annotated[str | None, BeforeValidator(_given(_text_of(256))), _text_schema(256)]
OptTime = Annotated[
    int | None, BeforeValidator(_given(_integer(0, MAX_TIME))), _integer_schema(0, MAX_TIME, "Unix seconds.")
]
OptVintage = Annotated[int | None, BeforeValidator(_given(_integer(1900, 9999))), _integer_schema(1900, 9999, "")]
OptMarket = Annotated[
    int | None,
    BeforeValidator(_given(_integer(1, 2**32 - 1))),
    _integer_schema(1, 2**32 - 1, "The market number."),
]
OptStandard = Annotated[str | None, *_enum_alias("Standard")]
OptProjectType = Annotated[str | None, *_enum_alias("ProjectType")]
OptCreditType = Annotated[str | None, *_enum_alias("CreditType")]
OptSector = Annotated[str | None, *_enum_alias("Sector")]
OptAccountType = Annotated[str | None, *_enum_alias("AccountType")]
OptTradeRole = Annotated[str | None, *_enum_alias("TradeRole")]
OptPurpose = Annotated[str | None, *_enum_alias("RetirementPurpose")]
OptFlow = Annotated[str | None, *_enum_alias("Flow")]
OptClassification = Annotated[str | None, *_enum_alias("Classification")]
ACCURACY_QUANTITIES = accuracy.QUANTITIES
OptAccuracyQuantity = Annotated[
    str | None,
    BeforeValidator(_given(lambda v: v if v in ACCURACY_QUANTITIES else _refuse(v, ", ".join(ACCURACY_QUANTITIES)))),
    _enum_schema(ACCURACY_QUANTITIES),
]
HISTORY_KINDS = ("trade", "retirement")
OptHistoryKind = Annotated[
    str | None,
    BeforeValidator(_given(lambda v: v if v in HISTORY_KINDS else _refuse(v, ", ".join(HISTORY_KINDS)))),
    _enum_schema(HISTORY_KINDS),
]


def _refuse(value: str, expected: str) -> str:
    raise ValueError(f"{value[:80]!r} is not one of {expected}")


def _whole_number(value: Any) -> Any:
    """Digits only (pydantic alone would read "0.0" or "+1" as an integer)."""
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,20}", value):
        raise ValueError(f"{value[:80]!r} is not a whole number")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


# --- query models --------------------------------------------------------------------------------


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Page(Query):
    limit: WholeNumber = Field(50, ge=1, le=500, description="Rows per page (1-500).")
    offset: WholeNumber = Field(0, ge=0, le=MAX_OFFSET, description="Rows to skip.")


class TimeRange(Query):
    from_: OptTime = Field(None, alias="from", description="From this unix time (inclusive).")
    to: OptTime = Field(None, description="Up to this unix time (exclusive).")


class ProjectsQuery(Page):
    owner: OptAddress = None
    standard: OptStandard = None
    project_type: OptProjectType = None


class BatchesQuery(Page):
    project: OptProject = None
    owner: OptAddress = None
    vintage: OptVintage = None
    credit_type: OptCreditType = None
    serial_prefix: OptText = None


class ParticipantsQuery(Page):
    sector: OptSector = None
    account_type: OptAccountType = None
    trade_role: OptTradeRole = None


class HistoryQuery(Page, TimeRange):
    kind: OptHistoryKind = None


class TradesQuery(Page, TimeRange):
    market: OptMarket = None
    participant: OptAddress = Field(None, description="Buyer or seller.")
    period: OptQuarter = Field(None, description="Trading period (quarter) of the maker order.")


class MarketTradesQuery(Page, TimeRange):
    participant: OptAddress = Field(None, description="Buyer or seller.")
    period: OptQuarter = None


class BookQuery(Query):
    period: OptQuarter = Field(
        None, description="Trading period; default the current one (by the last indexed block's time)."
    )
    depth: WholeNumber = Field(50, ge=1, le=500, description="Price levels per side.")


class CandlesQuery(TimeRange):
    interval: Interval = Interval.hour
    limit: WholeNumber = Field(200, ge=1, le=500, description="Most candles (the latest ones in the range).")


class RetirementsQuery(Page, TimeRange):
    holder: OptAddress = None
    credit_batch_id: OptU256 = None
    project: OptProject = None
    purpose: OptPurpose = None
    beneficiary: OptText = Field(None, description="Exact beneficiary text.")


class EmissionsQuery(Page, TimeRange):
    participant: OptAddress = None
    project: OptProject = None
    flow: OptFlow = None


class SeriesQuery(Page, TimeRange):
    participant: OptAddress = None
    project: OptProject = None
    flow: Flow = Flow("emission")  # type: ignore[valid-type]
    interval: SeriesInterval = SeriesInterval.day


class QualityQuery(Page):
    participant: OptAddress = None
    project: OptProject = None
    flow: OptFlow = None


class AccuracyQuery(Page):
    participant: OptAddress = Field(None, description="Owner of the measured sensors.")
    project: OptProject = None
    device: OptAddress = Field(None, description="The measured sensor.")
    quantity: OptAccuracyQuantity = None


class SettlementsQuery(Page):
    participant: OptAddress = None
    period: OptQuarter = None
    sector: OptSector = None
    classification: OptClassification = None


class NoQuery(Query):
    """Endpoints without query parameters still refuse unknown ones."""
