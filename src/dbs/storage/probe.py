"""Prove that a store can do what backups rely on, before it is recorded as active.

``probe_store`` writes a unique marker under ``.dbs-probe/``, reads it back,
finds it by listing, checks that a create-only put of an existing key is
refused (write-once manifests depend on it), deletes the markers and confirms
they are gone. Any failure raises ``ProbeFailed`` naming the step.

Servers that accept an overwrite despite ``If-None-Match: *`` (older MinIO,
``rclone serve s3``) are refused: without conditional create two writers could
both believe they committed the same manifest or lock.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from dbs.storage.base import ObjectExistsError, ObjectNotFoundError, ObjectStore, StorageError

PROBE_PREFIX = ".dbs-probe/"


class ProbeFailed(StorageError):
    """A probe step failed; ``step`` names it (``put``, ``get``, ``conditional create``...)."""

    code = "StorageProbeFailed"

    def __init__(self, step: str, reason: str, *, code: str | None = None) -> None:
        super().__init__(f"step '{step}': {reason}", code=code)
        self.step = step


@dataclass(frozen=True)
class ProbeStep:
    """One step that passed, for the activation report."""

    name: str
    detail: str


def probe_store(store: ObjectStore) -> list[ProbeStep]:
    """Run every step against ``store``; return what passed or raise ProbeFailed."""
    run = uuid.uuid4().hex
    marker = f"{PROBE_PREFIX}{run}/marker"
    create_marker = f"{PROBE_PREFIX}{run}/create-only"
    payload = b"dbs storage probe " + os.urandom(16)
    steps: list[ProbeStep] = []

    def step(name: str, action: Callable[[], str]) -> None:
        try:
            detail = action()
        except ProbeFailed:
            raise
        except StorageError as exc:
            raise ProbeFailed(name, exc.message, code=exc.code) from None
        steps.append(ProbeStep(name, detail))

    def put() -> str:
        store.put(marker, payload)
        return f"wrote {marker} ({len(payload)} bytes)"

    def get() -> str:
        if store.get(marker) != payload:
            raise ProbeFailed("get", f"{marker} read back different bytes than were written")
        return f"read {marker} back intact"

    def list_() -> str:
        found = [info for info in store.list(f"{PROBE_PREFIX}{run}/") if info.key == marker]
        if len(found) != 1 or found[0].size != len(payload):
            raise ProbeFailed("list", f"listing {PROBE_PREFIX}{run}/ did not show {marker}")
        return f"listed {marker}"

    def conditional_create() -> str:
        store.put(create_marker, b"first", create_only=True)
        try:
            store.put(create_marker, b"second", create_only=True)
        except ObjectExistsError:
            pass
        else:
            raise ProbeFailed(
                "conditional create",
                "the server accepted an overwrite of an existing object with "
                "If-None-Match: *; this storage cannot guarantee write-once manifests. "
                "Use a server that supports conditional writes (AWS S3, Alibaba OSS, "
                "current MinIO)",
                code="StorageError.NoConditionalCreate",
            )
        if store.get(create_marker) != b"first":
            raise ProbeFailed("conditional create", "a refused create-only put changed the object")
        return "a second create-only put of the same key was refused"

    def delete() -> str:
        for key in (marker, create_marker):
            store.delete(key)
            try:
                store.stat(key)
            except ObjectNotFoundError:
                continue
            raise ProbeFailed("delete", f"{key} is still there after delete")
        return "deleted the markers"

    try:
        step("put", put)
        step("get", get)
        step("list", list_)
        step("conditional create", conditional_create)
        step("delete", delete)
    finally:
        _clean_up(store, (marker, create_marker))
    return steps


def _clean_up(store: ObjectStore, keys: tuple[str, ...]) -> None:
    # Best effort: the probe's own failure is what the caller needs to see.
    for key in keys:
        with contextlib.suppress(StorageError):
            store.delete(key)
