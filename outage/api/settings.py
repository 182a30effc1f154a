"""The service's settings: where the network and journal are, keys, limits, the IVR's voice."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .clock import ClockPolicy


class ServiceSettings(BaseModel):
    """Everything ``outage serve`` is configured with (CLI options map onto these)."""

    model_config = ConfigDict(extra="forbid")

    #: API keys file (hashed keys with roles); see `outage.api.auth`.
    keys: Path | None = None
    #: Twilio auth token: when set, ``/v1/ivr/twiml`` requires a valid X-Twilio-Signature.
    twilio_auth_token: str | None = Field(default=None, repr=False)
    #: The externally visible base URL (as Twilio sees it), for signature validation behind a
    #: proxy; without it the request's own URL is used.
    public_url: str | None = None
    #: Largest request body accepted, in bytes.
    max_body_bytes: Annotated[int, Field(gt=0)] = 16 * 1024 * 1024
    #: Most signals in one intake request.
    max_batch: Annotated[int, Field(gt=0, le=100_000)] = 10_000
    #: The utility's time zone, for times the IVR speaks.
    timezone: str = "Asia/Shanghai"
    #: Phone region for numbers written without a country code.
    region: str = "CN"
    #: Where static dashboard files are (None: no dashboard).
    dashboard_dir: Path | None = None
    #: How far timestamps at the door may be from the service's clock (see `outage.api.clock`).
    clock: ClockPolicy = ClockPolicy()
    #: Signs dashboard session cookies; None: a random secret per process (sessions end with
    #: the process). ``outage serve`` keeps one in ``STATE_DIR/session.secret``.
    session_secret: SecretStr | None = Field(default=None, repr=False)
    #: Failed sign-ins (unknown keys or sessions) allowed per client address and second, with
    #: a burst of ``auth_failure_burst``; beyond that 429.
    auth_failures_per_s: Annotated[float, Field(gt=0)] = 2.0
    auth_failure_burst: Annotated[int, Field(ge=1)] = 20
