"""Pipelines and stages on the wire: create, rename, stage edits and reorder, and what a client reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, model_validator

from core.schemas import PlainText, ReadSchema, Schema

# Active ISO 4217 codes (plus the funds and metals codes): a typo such as "USS" or "EUD" is refused.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF
    CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
    LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
    PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG
    XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
    """.split()
)


def _iso_4217(value: str) -> str:
    if value not in ISO_4217:
        raise ValueError("not an ISO 4217 currency code (three upper-case letters, e.g. USD, EUR, JPY)")
    return value


Currency = Annotated[
    str,
    Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", examples=["USD"], description="ISO 4217 code."),
    AfterValidator(_iso_4217),
]
StageName = Annotated[PlainText, Field(min_length=1, max_length=100)]
PipelineName = Annotated[PlainText, Field(min_length=1, max_length=100)]
Probability = Annotated[int, Field(ge=0, le=100, description="Percent, 0-100.")]
RottingDays = Annotated[int, Field(ge=1, le=3650, description="An open deal rots after this many days in the stage.")]


class StageCreate(Schema):
    name: StageName
    probability: Probability | None = Field(None, description="Default: 100 for a won stage, otherwise 0.")
    rotting_days: RottingDays | None = None
    is_closed: bool = False
    is_won: bool = Field(False, description="A won stage is also closed.")
    position: int | None = Field(
        None, ge=1, le=1000, description="1-based place among the stages; default: after the last one."
    )

    @model_validator(mode="after")
    def _won_is_closed(self) -> StageCreate:
        if self.is_won:
            self.is_closed = True
        return self


class StageUpdate(Schema):
    name: StageName | None = None
    probability: Probability | None = None
    rotting_days: RottingDays | None = Field(None, description="Send null to stop rotting in this stage.")
    is_closed: bool | None = None
    is_won: bool | None = Field(None, description="true also closes the stage.")
    version: int | None = Field(None, description="Current version for optimistic locking.")


class StageOrder(Schema):
    stage_ids: list[UUID] = Field(min_length=1, max_length=100, description="Every stage of the pipeline, in order.")


class PipelineCreate(Schema):
    name: PipelineName
    currency: Currency = "USD"
    is_default: bool = Field(False, description="Make it the tenant's default pipeline (the previous one stops being).")
    stages: list[StageCreate] | None = Field(
        None,
        min_length=1,
        max_length=50,
        description="In order; at least one open stage. Default: the standard six sales stages.",
    )


class PipelineUpdate(Schema):
    name: PipelineName | None = None
    currency: Currency | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")


class StageRead(ReadSchema):
    id: UUID
    pipeline_id: UUID
    name: str
    position: int
    probability: int
    rotting_days: int | None
    is_closed: bool
    is_won: bool
    created_at: datetime
    updated_at: datetime
    version: int


class PipelineRead(ReadSchema):
    id: UUID
    name: str
    currency: str
    is_default: bool
    stages: list[StageRead]
    created_at: datetime
    updated_at: datetime
    version: int
