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


@lru_cache
def get_settings() -> TriageSettings:
    return TriageSettings()
