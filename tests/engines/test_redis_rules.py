"""Redis precheck findings, permissions and key conflict rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from testbed.ports import free_port
from testbed.redis_server import RedisServer, redis_server

from dbs.engines.base import EngineError
from dbs.engines.endpoint import parse_endpoint
from dbs.engines.precheck_items import CHECK_CONNECTIVITY, CHECK_PRIVILEGES
from dbs.engines.redis import ENGINE
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.redis_fixtures import back_up, restore


@pytest.fixture
def source() -> Iterator[RedisServer]:
    with redis_server() as server:
        c = server.client()
        c.mset({"a": "1", "b": "2", "c": "3"})
        c.rpush("list", "x", "y")
        yield server


@pytest.fixture
def target() -> Iterator[RedisServer]:
    with redis_server() as server:
        server.client().set("b", "target's own")
        server.client().set("unrelated", "keep me")
        yield server


def _items(endpoint: Any) -> dict[str, Any]:
    return {i.item: i for i in ENGINE.precheck(endpoint, ObjectSelection.everything())}


def test_precheck_fails_when_nothing_listens() -> None:
    item = _items(parse_endpoint(f"redis://127.0.0.1:{free_port()}"))[CHECK_CONNECTIVITY]
    assert item.state == "failed" and "cannot reach" in item.message and item.fix


def test_precheck_and_backup_name_a_missing_sync_permission(
    source: RedisServer, repository: Any
) -> None:
    source.client().execute_command(
        "ACL", "SETUSER", "reader", "on", ">readerpw", "~*", "+@read", "+info", "+ping"
    )
    endpoint = parse_endpoint(f"redis://reader:readerpw@127.0.0.1:{source.port}")
    item = _items(endpoint)[CHECK_PRIVILEGES]
    assert item.state == "failed" and "+psync" in item.fix
    with pytest.raises(EngineError, match="PSYNC"), repository.begin_backup() as writer:
        ENGINE.backup(endpoint, ObjectSelection.everything(), writer, NullProgress())
    assert repository.list_backup_sets() == []


def test_a_dedicated_backup_user_with_psync_works(source: RedisServer, repository: Any) -> None:
    grant = ["+psync", "+replconf", "+info", "+ping"]
    source.client().execute_command("ACL", "SETUSER", "backup", "on", ">bk", *grant)
    endpoint = parse_endpoint(f"redis://backup:bk@127.0.0.1:{source.port}")
    # Without the right to ask ACL DRYRUN, precheck can only say "probably".
    assert _items(endpoint)[CHECK_PRIVILEGES].state == "warning"
    source.client().execute_command("ACL", "SETUSER", "backup", "+acl|dryrun")
    assert _items(endpoint)[CHECK_PRIVILEGES].state == "finish"
    _, metadata = back_up(repository, endpoint)
    assert metadata["keys_per_db"] == {"0": 4}


def test_conflict_fail_refuses_before_writing_anything(
    source: RedisServer, target: RedisServer, repository: Any
) -> None:
    set_id, _ = back_up(repository, source.endpoint())
    with pytest.raises(EngineError, match=r"already exist.*0\.b"):
        restore(repository, set_id, target.endpoint(), conflict="fail")
    assert target.client().get("b") == b"target's own"
    assert target.client().exists("a", "c", "list") == 0


def test_conflict_skip_keeps_existing_keys(
    source: RedisServer, target: RedisServer, repository: Any
) -> None:
    set_id, _ = back_up(repository, source.endpoint())
    result = restore(repository, set_id, target.endpoint(), conflict="skip")
    assert result.verified, result
    c = target.client()
    assert c.get("b") == b"target's own"
    assert c.mget("a", "c") == [b"1", b"3"] and c.lrange("list", 0, -1) == [b"x", b"y"]


def test_conflict_overwrite_replaces_existing_keys(
    source: RedisServer, target: RedisServer, repository: Any
) -> None:
    set_id, _ = back_up(repository, source.endpoint())
    result = restore(repository, set_id, target.endpoint(), conflict="overwrite")
    assert result.verified, result
    c = target.client()
    assert c.mget("a", "b", "c") == [b"1", b"2", b"3"]
    assert c.get("unrelated") == b"keep me"


def test_a_target_naming_one_db_needs_a_single_source_db(
    target: RedisServer, repository: Any
) -> None:
    with redis_server() as source:
        source.client(0).set("k0", "v")
        source.client(2).set("k2", "v")
        set_id, _ = back_up(repository, source.endpoint())
    with pytest.raises(EngineError, match="rename"):
        restore(repository, set_id, target.endpoint(db=4))
