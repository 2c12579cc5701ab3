#!/usr/bin/env bash
# Install the tools the benchmarks compare dbs with, from Debian's packages, if missing:
# sysbench (MySQL dataset and change workload), mydumper/myloader, zstd, pgbench.
set -euo pipefail

missing=()
command -v sysbench >/dev/null || missing+=(sysbench)
command -v mydumper >/dev/null || missing+=(mydumper)
command -v zstd >/dev/null || missing+=(zstd)
command -v pgbench >/dev/null || missing+=(postgresql-client)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing benchmark tools: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
