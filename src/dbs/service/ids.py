"""Identifiers in Alibaba Cloud's shapes."""

from __future__ import annotations

import secrets
import string

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits


def account_id() -> str:
    """A 16-digit account id that does not start with 0."""
    return str(secrets.randbelow(9) + 1) + "".join(secrets.choice(string.digits) for _ in range(15))


def access_key_id() -> str:
    """``LTAI`` and 20 letters/digits, 24 characters like RAM's."""
    return "LTAI" + "".join(secrets.choice(_ALNUM) for _ in range(20))


def access_key_secret() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(30))


def backup_plan_id() -> str:
    """``dbs`` and 10 lower-case letters/digits, DBS style (e.g. dbsrkd6bo1v2kx9)."""
    return "dbs" + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(10))


def job_id() -> str:
    return "job" + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(12))


def restore_task_id() -> str:
    return "rt" + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(12))
