"""Settings of the HL7 v2 / MLLP adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Hl7Settings(BaseModel):
    """The MLLP endpoint the EHR connects to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Listen for MLLP connections in `hub run`.")
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=2575, ge=0, le=65535, description="TCP port (0: any free port).")
    max_message_bytes: int = Field(default=1_048_576, ge=1024, description="Larger frames are refused.")
    idle_timeout_s: float = Field(default=300.0, gt=0, description="Close a connection idle this long.")
    tls_cert: Path | None = Field(default=None, description="PEM certificate: enables TLS.")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    other_events: Literal["accept", "reject"] = Field(
        default="accept", description="ADT events the hub does not map: stored raw and AA, or AR.")
    wards: dict[str, str] = Field(default_factory=dict,
                                  description="PV1-3 code → HSA-id, used when the directory has no match.")
    drop_directory: Path | None = Field(default=None, description="Folder polled for HL7 files (FHS/BHS batches).")
