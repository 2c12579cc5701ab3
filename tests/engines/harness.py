"""What each engine's tests provide so the shared conformance suite can run against it.

Every engine package adds ``tests/engines/harness_<engine>.py`` with a class
implementing `EngineHarness`, and registers it in ``HARNESSES`` in
``test_conformance.py``. The harness creates real databases on the real
server, and computes its digest *independently of the engine under test*
(e.g. an ordered per-table checksum in SQL, or Redis DEBUG DIGEST), so a
restore that loses or alters data cannot pass.
"""

from __future__ import annotations

from typing import Protocol

from dbs.engines.base import Engine
from dbs.engines.endpoint import Endpoint
from dbs.engines.selection import ObjectSelection


class EngineHarness(Protocol):
    engine: Engine

    def make_source(self) -> Endpoint:
        """A new, uniquely named source populated with varied data (NULLs, unicode, binary...)."""
        ...

    def source_selection(self, source: Endpoint) -> ObjectSelection:
        """The selection that covers exactly what make_source created."""
        ...

    def expected_objects(self, source: Endpoint) -> set[str]:
        """Names list_objects must include for this source (e.g. {"db", "db.public.t"})."""
        ...

    def new_target(self) -> Endpoint:
        """A place to restore into, cleaned up by cleanup()."""
        ...

    def digest(self, endpoint: Endpoint) -> dict[str, str]:
        """Content digest per object, computed without the engine under test."""
        ...

    def restored_endpoint(self, target: Endpoint, source: Endpoint) -> Endpoint:
        """Where the source's data landed after restoring into ``target``."""
        ...

    def bad_credentials(self, source: Endpoint) -> Endpoint:
        """The source with credentials the server refuses (or an unreadable file)."""
        ...

    def make_large_source(self) -> Endpoint:
        """Like make_source, plus one table (or many keys) of ~16 MB, so that a backup or a
        restore of it is mid-stream after a few progress reports."""
        ...

    def sessions(self, endpoint: Endpoint) -> list[str]:
        """What is still open on the server for ``endpoint`` that an engine could have
        opened (server sessions on its database, the file's handles in this process)."""
        ...

    def drop(self, endpoint: Endpoint) -> None:
        """Remove what ``endpoint`` names, as an operator would right after a stopped job;
        raises (rather than hangs) when something still holds it."""
        ...

    def cleanup(self) -> None:
        """Drop everything this harness created."""
        ...
