"""``dbs storage activate|show``: where backup data is kept ("Activate OSS")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dbs.cli.output import console, print_fields, print_json
from dbs.cli.secrets_input import read_secret_file
from dbs.cli.state import service_as_caller
from dbs.errors import InvalidParameter
from dbs.service import storage as storage_service

storage_app = typer.Typer(help="Backup storage: local disk or S3-compatible.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(storage_app, name="storage")


@storage_app.command("activate")
def activate(
    ctx: typer.Context,
    accept_agreement: Annotated[
        bool, typer.Option("--accept-agreement", help="Accept the service agreement (required).")
    ] = False,
    local: Annotated[
        Path | None,
        typer.Option("--local", help="A directory for local storage (default: <home>/storage)."),
    ] = None,
    s3_endpoint: Annotated[
        str | None,
        typer.Option("--s3-endpoint", help="S3-compatible endpoint URL (AWS S3, OSS, MinIO)."),
    ] = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Bucket name (created if missing).")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Region, e.g. us-east-1 or oss-cn-hangzhou.")
    ] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Key prefix inside the bucket.")] = "",
    access_key_id: Annotated[
        str | None, typer.Option("--access-key-id", help="S3 access key id.")
    ] = None,
    secret_access_key_file: Annotated[
        Path | None,
        typer.Option("--secret-access-key-file", help="File holding the S3 secret access key."),
    ] = None,
    no_encryption: Annotated[
        bool, typer.Option("--no-encryption", help="Store backups unencrypted (not recommended).")
    ] = False,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="Wrap the repository key with this passphrase (or open with it).",
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file", help="Open the storage's existing repository with this key file."
        ),
    ] = None,
    key_export: Annotated[
        Path | None,
        typer.Option("--key-export", help="A 'dbs key export' file, if the storage lost keys/."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Activate backup storage; proves put/get/list/delete/conditional create first."""
    s3 = None
    if s3_endpoint is not None:
        secret = read_secret_file(secret_access_key_file, "--secret-access-key-file")
        s3 = storage_service.S3Settings(
            endpoint=s3_endpoint,
            bucket=bucket or "",
            region=region or "",
            access_key_id=access_key_id or "",
            secret_access_key=secret,
            prefix=prefix,
        )
    with service_as_caller(ctx) as (svc, caller):
        result = storage_service.activate_storage(
            svc,
            caller,
            accept_agreement=accept_agreement,
            local_path=local,
            s3=s3,
            keys=storage_service.KeyChoice(
                encrypt=not no_encryption,
                passphrase=read_secret_file(passphrase_file, "--passphrase-file")
                if passphrase_file
                else None,
                key_file=key_file,
                key_export=_read_text(key_export, "--key-export") if key_export else None,
            ),
        )
    if json_output:
        print_json(result)
        return
    for step in result["Probe"]:
        console.print(f"  ok  {step['Step']}: {step['Detail']}", markup=False)
    console.print(f"Storage activated: {result['StorageType']} {result['Location']}", markup=False)
    if result["Encryption"] != "none":
        console.print(
            "Backups are encrypted with a key kept in the home. Losing it loses the backups: "
            "run 'dbs key export --to FILE' now and keep that file somewhere safe.",
            markup=False,
        )


def _read_text(path: Path, option: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise InvalidParameter(f"{option}: cannot read {path}: {exc.strerror}") from None


@storage_app.command("show")
def show(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """The active storage (never its secret)."""
    with service_as_caller(ctx) as (svc, caller):
        result = storage_service.show_storage(svc, caller)
    if json_output:
        print_json(result)
        return
    settings = result.pop("Settings")
    print_fields({**result, **settings})
