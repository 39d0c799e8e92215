"""The one set of `.changeguard.yaml` keys and defaults (SPEC §3), shared by both views.

Stdlib only: the hook's light view (`config.light`) and the pydantic model
(`changeguard.model.GuardConfig`) both read these; a contract test checks that the model's
fields are exactly these keys.
"""

from __future__ import annotations

CONFIG_NAME = ".changeguard.yaml"
API_VERSION = "changeguard/v1"
KIND = "GuardConfig"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_LOG_REF = "refs/heads/changeguard/log"
DEFAULT_PLANS = "changes/*.yaml"
DEFAULT_POLICIES = ("builtin:default",)
DEFAULT_LEAD_TIME_HOURS = 0
DEFAULT_EMERGENCY_REVIEW_HOURS = 72
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_TRUST_BRANCH = "main"
CLOCKS = ("real", "simulated")
DEFAULT_CLOCK = "real"
DEFAULT_CLOCK_SKEW_MINUTES = 10

REF_PATTERN = r"^refs/[A-Za-z0-9._/-]+$"
BRANCH_PATTERN = r"^[A-Za-z0-9._][A-Za-z0-9._/-]*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
HHMM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FORMATS = ("native", "patroni", "postgresql", "mysql", "mongodb", "redis", "kubernetes", "auto")

# Keys of each object, in the model's field order (errors are reported in this order).
KEYS = ("apiVersion", "kind", "timezone", "log", "guarded", "plans", "schemas", "policies",
        "windows", "freezes", "lead_time_hours", "emergency_review_hours", "require_signed",
        "reviewers", "max_file_bytes", "trust", "clock", "clock_skew_minutes")
LOG_KEYS = ("ref", "remote")
TRUST_KEYS = ("branch",)
SCHEMA_KEYS = ("paths", "schema", "format")
WINDOW_KEYS = ("name", "days", "start", "end", "timezone")
FREEZE_KEYS = ("name", "start", "end", "reason")
REVIEWER_KEYS = ("email", "name", "roles", "signing_key")
