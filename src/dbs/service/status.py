"""Where the first-use flow stands, and the next step to take."""

from __future__ import annotations

from typing import Any

from dbs.service.context import ServiceContext, find_account
from dbs.service.onboarding import find_service_role
from dbs.service.storage import describe_storage, find_storage


def first_use_status(ctx: ServiceContext) -> dict[str, Any]:
    url = ctx.home.catalog_url
    catalog = url.split("@")[-1] if "@" in url else url
    with ctx.catalog.session() as session:
        account = find_account(session)
        authorized = account is not None and find_service_role(session, account.id) is not None
        storage = find_storage(session, account.id) if account is not None else None
        storage_info = describe_storage(storage) if storage is not None else None
    if account is None:
        next_step = "dbs init (creates the account and its root access key)"
    elif not authorized:
        next_step = "dbs authorize (creates the service-linked role AliyunServiceRoleForDBS)"
    elif storage is None:
        next_step = "dbs storage activate --accept-agreement (local storage under the home)"
    else:
        next_step = ""
    return {
        "Status": "ok",
        "Home": str(ctx.home.path),
        "Catalog": catalog,
        "AccountId": account.id if account is not None else None,
        "Authorized": authorized,
        "Storage": storage_info,
        "NextStep": next_step,
    }
