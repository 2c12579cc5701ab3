"""What the service does on the account's behalf, as the seed policy's action names.

When the service works for the account it acts as the service-linked role
``AliyunServiceRoleForDBS``: each operation below is checked against the role's
policy (`AliyunServiceRolePolicyForDBS`) and audited before it runs. The
names on the right are the seed's; an operation is listed only where one fits.

Writing backup data is not in the table on purpose: the seed policy grants no
storage actions, because in DBS the backup storage belongs to the service
(activated once by the account, "Activate OSS"). Storage writes here happen
under that activation, not under the role.
"""

from __future__ import annotations

SERVICE_ACTIONS: dict[str, str] = {
    # reading a source before and during backup
    "describe_source_instance": "rds:DescribeDBInstanceAttribute",
    "list_source_databases": "rds:DescribeDatabases",
    "list_source_accounts": "rds:DescribeAccounts",
    "read_source_parameters": "rds:DescribeParameters",
    "list_source_log_files": "rds:DescribeBinlogFiles",
    "describe_redis_instance": "kvstore:DescribeInstanceAttribute",
    "list_redis_accounts": "kvstore:DescribeAccounts",
    # backup and restore work
    "create_backup": "rds:CreateBackup",
    "list_backups": "rds:DescribeBackups",
    "create_restore_database": "rds:CreateDatabase",
    # choosing an encryption key for the backup repository
    "list_encryption_keys": "kms:ListKeys",
    # events for monitoring
    "put_event_rule": "cms:PutEventRule",
    # removing its own role
    "delete_own_role": "ram:DeleteServiceLinkedRole",
}


def action_for(operation: str) -> str:
    try:
        return SERVICE_ACTIONS[operation]
    except KeyError:
        raise KeyError(f"no service action is mapped for operation {operation!r}") from None
