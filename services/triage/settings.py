from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field

from services.common.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    service_name: str = "triage"
    # 一天一梳理: the daily cut-off, local time in Asia/Shanghai ("HH:MM").
    daily_cutoff: str = Field("17:30", validation_alias="TRIAGE_DAILY_CUTOFF", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    scheduler_enabled: bool = Field(True, validation_alias="TRIAGE_SCHEDULER_ENABLED")
    # Feedback deadlines in working days (工作日); enterprise complaints (涉企) take the fast lane.
    transfer_working_days: int = Field(5, validation_alias="TRIAGE_TRANSFER_WORKING_DAYS")
    enterprise_transfer_working_days: int = Field(2, validation_alias="TRIAGE_ENTERPRISE_TRANSFER_WORKING_DAYS")
    accept_working_days: int = Field(10, validation_alias="TRIAGE_ACCEPT_WORKING_DAYS")
    enterprise_accept_working_days: int = Field(5, validation_alias="TRIAGE_ENTERPRISE_ACCEPT_WORKING_DAYS")
    # 即查即办: besides 涉企, the types that harm the public's interests (索贿/乱收费/优亲厚友…) are screened
    # on arrival instead of waiting for the cut-off (comma-separated type codes; empty: 涉企 only).
    immediate_types: str = Field("lawless,no_rules,no_principle", validation_alias="TRIAGE_IMMEDIATE_TYPES")
    # The daily run sorts and writes this many clues at a time (the whole day is deduped once first):
    # memory stays flat in the size of the day (100,000 clues within the 512 Mi the manifests give).
    daily_run_chunk: int = Field(5000, validation_alias="TRIAGE_DAILY_RUN_CHUNK", ge=100)
    # Duplicate detection: how far apart two clues may arrive, and how similar they must be.
    duplicate_window_days: int = Field(7, validation_alias="TRIAGE_DUPLICATE_WINDOW_DAYS")
    duplicate_threshold: float = Field(0.6, validation_alias="TRIAGE_DUPLICATE_THRESHOLD")
    # A unit directory file (YAML or CSV) imported at start-up when the directory is still empty.
    units_file: Path | None = Field(None, validation_alias="TRIAGE_UNITS_FILE")
    # 退回重办: working days a unit gets to redo a returned result; evidence files it may attach.
    return_working_days: int = Field(5, validation_alias="TRIAGE_RETURN_WORKING_DAYS")
    evidence_max_count: int = Field(10, validation_alias="TRIAGE_EVIDENCE_MAX_COUNT")
    evidence_max_bytes: int = Field(20 * 1024 * 1024, validation_alias="TRIAGE_EVIDENCE_MAX_BYTES")
    data_dir: Path = Field(Path("var/data"), validation_alias="ZUOFENG_DATA_DIR")
    # Where `zuofeng triage train` writes retrained models; the newest version here or shipped is loaded.
    classifier_dir: Path = Field(Path(".run/models"), validation_alias="TRIAGE_MODEL_DIR")

    @property
    def immediate_type_codes(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.immediate_types.split(",") if t.strip())


@lru_cache
def get_settings() -> TriageSettings:
    return TriageSettings()
