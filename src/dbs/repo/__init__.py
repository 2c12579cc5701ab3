"""The backup repository: deduplicated, compressed, encrypted backup sets on an object store.

See docs/repository-format.md for the on-storage format.
"""

from dbs.repo.check import CheckReport, Problem
from dbs.repo.errors import (
    BackupSetNotFound,
    RepositoryDamaged,
    RepositoryError,
    RepositoryExists,
    RepositoryLocked,
    RepositoryNotFound,
    StreamNotFound,
    WrongKeyError,
)
from dbs.repo.keys import KeySource
from dbs.repo.manifest import BackupSetInfo
from dbs.repo.prune import PruneReport
from dbs.repo.reader import BackupSetReader
from dbs.repo.repository import Repository
from dbs.repo.retention import RetentionDecision, RetentionPolicy, apply_retention
from dbs.repo.writer import BackupSetWriter

__all__ = [
    "BackupSetInfo",
    "BackupSetNotFound",
    "BackupSetReader",
    "BackupSetWriter",
    "CheckReport",
    "KeySource",
    "Problem",
    "PruneReport",
    "Repository",
    "RepositoryDamaged",
    "RepositoryError",
    "RepositoryExists",
    "RepositoryLocked",
    "RepositoryNotFound",
    "RetentionDecision",
    "RetentionPolicy",
    "StreamNotFound",
    "WrongKeyError",
    "apply_retention",
]
