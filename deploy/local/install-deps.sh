#!/usr/bin/env bash
# What a fresh Debian 12 machine (CI) lacks to run the suite locally: PostgreSQL's server, a JDK and Maven
# for Kafka (and the Java signing sample), util-linux (flock, runuser, setsid), make, curl, Python's venv, redis-server, chromium and
# fonts-noto-cjk. Installs only what is
# missing, so on a prepared machine it takes about a second and touches nothing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  need+=(postgresql postgresql-contrib)
fi
# The JDK, not just a JRE: Kafka runs on it, and the tests compile and run the Java signing sample
# (docs/examples/HotlineSigner.java) against the gateway.
{ have_cmd java && have_cmd javac; } || need+=(openjdk-17-jdk-headless)
have_cmd mvn || need+=(maven)
{ have_cmd flock && have_cmd runuser && have_cmd setsid; } || need+=(util-linux)
have_cmd make || need+=(make)
have_cmd curl || need+=(curl ca-certificates)
have_cmd openssl || need+=(openssl)  # tests/unit/test_deploy_k8s.py runs the Secrets runbook
have_cmd python3 || need+=(python3)
# Debian splits venv/ensurepip out of python3; `make` creates .venv with it. (A pyenv or other non-Debian
# python3 brings its own.)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
# Redis for the gateway's shared rate limits and nonces (deploy/local/redis.sh runs our own on our port).
have_cmd redis-server || need+=(redis-server)
# The browser tests (citizen pages, ballot page) drive Debian's chromium through Playwright's Python
# package (never its own downloaded browsers), with CJK fonts so Chinese renders in screenshots.
have_cmd chromium || need+=(chromium)
# The staff console (console/) is built with npm from its lock file by `make console`.
have_cmd node || need+=(nodejs)
have_cmd npm || need+=(npm)
have_pkg fonts-noto-cjk || need+=(fonts-noto-cjk)

if ((${#need[@]} == 0)); then
  echo "install-deps: everything is present" >&2
  exit 0
fi

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
apt_get() { "${sudo[@]}" apt-get -q -y -o Dpkg::Use-Pty=0 "$@"; }

# apt-get update costs 5-30 s, so only when the package lists are missing (fresh images ship without),
# or when an install fails on stale lists.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then apt_get update >&2; fi
install_pkgs() { apt_get install --no-install-recommends "$@" >&2 || { apt_get update >&2 && apt_get install --no-install-recommends "$@" >&2; }; }

echo "install-deps: installing ${need[*]}" >&2
if [[ " ${need[*]} " == *" postgresql "* ]] && ! have_pkg postgresql-common; then
  # The server package would create and start a "main" cluster on 5432. We run our own cluster on our own
  # port, so it would only cost memory: on a machine that never had PostgreSQL, tell postgresql-common
  # (installed first, on its own) not to create it. A machine that has one keeps it; it does not clash.
  install_pkgs postgresql-common
  "${sudo[@]}" sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
fi
install_pkgs "${need[@]}"
echo "install-deps: ok" >&2
