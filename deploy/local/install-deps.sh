#!/usr/bin/env bash
# What a fresh Debian machine (CI) lacks: PostgreSQL, a JRE and Maven for Kafka, flock, curl.
# Takes about a second where everything is present.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
ls -d /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql postgresql-contrib)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v flock >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3 python3-venv)
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "install-deps: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's package starts its own cluster on 5432 where it can; ours runs on its own port and is unaffected.
echo "install-deps: ok" >&2
