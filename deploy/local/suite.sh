#!/usr/bin/env bash
# Runs the five services and the gateway under supervisord, against the infrastructure infra.sh started.
# up: keys, env file, migrations, process manager (reused when already running), wait until ready, URLs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

VENV="${VENV:-$REPO/.venv}"
SUITE_DIR="$RUN_DIR/suite"
CONF="$SUITE_DIR/supervisord.conf"
ENV_FILE="$RUN_DIR/zuofeng.env"
SERVICES=(intake triage accountability evaluation notification)
GATEWAY_URL="http://127.0.0.1:${GATEWAY_PORT:-8000}"

write_env() {
  local keys="$RUN_DIR/keys"
  "$VENV/bin/zuofeng" dev-keys --dir "$keys" >/dev/null
  if [ ! -f "$keys/hotline-keys.json" ]; then
    # One development key per hotline line, for signing feeds locally (see docs/security.md).
    "$VENV/bin/python" - "$keys/hotline-keys.json" <<'PY'
import json, secrets, sys
keys = {f"dev-{line}": {"secret": secrets.token_hex(32), "line": line} for line in ("12388", "12345", "12380")}
with open(sys.argv[1], "w") as f:
    json.dump(keys, f, indent=2)
PY
    chmod 600 "$keys/hotline-keys.json"
  fi
  eval "$(bash "$here/infra.sh" env)"
  cat >"$ENV_FILE" <<ENV
ZUOFENG_ENV=development
DATABASE_URL=$DATABASE_URL
KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS
REDIS_URL=$REDIS_URL
INTERNAL_TOKEN_PUBLIC_KEY_FILE=$keys/internal.pub.pem
INTERNAL_TOKEN_PRIVATE_KEY_FILE=$keys/internal.pem
STAFF_JWT_PUBLIC_KEY_FILE=$keys/staff-idp.pub.pem
IDENTITY_KEYRING_FILE=$keys/identity-keyring
CONTACT_KEYRING_FILE=$keys/contact-keyring
HOTLINE_KEYS_FILE=$keys/hotline-keys.json
TRIAGE_UNITS_FILE=$REPO/services/triage/data/units-datong-demo.yaml
NOTIFICATION_SMTP_HOST=127.0.0.1
NOTIFICATION_SMTP_PORT=${SMTP_SINK_PORT:-1025}
ZUOFENG_DATA_DIR=$RUN_DIR/data
OIDC_ISSUER=$OIDC_ISSUER
OIDC_CLIENT_ID=zuofeng-console
OIDC_CLIENT_SECRET=zuofeng-console-dev-secret
CONSOLE_COOKIE_SECURE=false
ENV
}

write_conf() {
  mkdir -p "$SUITE_DIR/logs"
  # supervisord's environment= wants KEY="value" pairs on one line.
  local envline
  envline="$(grep -v '^#' "$ENV_FILE" | sed -E 's/^([^=]+)=(.*)$/\1="\2"/' | paste -sd, -)"
  {
    cat <<CONF
[unix_http_server]
file=$SUITE_DIR/supervisor.sock

[supervisord]
logfile=$SUITE_DIR/logs/supervisord.log
pidfile=$SUITE_DIR/supervisord.pid
childlogdir=$SUITE_DIR/logs
nodaemon=false

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$SUITE_DIR/supervisor.sock
CONF
    # A local mail sink, so notification's e-mails go somewhere you can read: logs/mailsink.log.
    cat <<CONF

[program:mailsink]
command=$VENV/bin/python -m aiosmtpd -n -c aiosmtpd.handlers.Debugging stdout -l 127.0.0.1:${SMTP_SINK_PORT:-1025}
autorestart=true
redirect_stderr=true
stdout_logfile=$SUITE_DIR/logs/mailsink.log
CONF
    for app in "${SERVICES[@]}" gateway; do
      cat <<CONF

[program:$app]
command=$VENV/bin/zuofeng serve $app
directory=$REPO
environment=$envline
autorestart=true
startsecs=2
stopsignal=TERM
stopwaitsecs=25
redirect_stderr=true
stdout_logfile=$SUITE_DIR/logs/$app.log
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=2
CONF
    done
  } >"$CONF"
}

ctl() { "$VENV/bin/supervisorctl" -c "$CONF" "$@"; }

running() { [ -S "$SUITE_DIR/supervisor.sock" ] && ctl pid >/dev/null 2>&1; }

up() {
  write_env
  set -a; source "$ENV_FILE"; set +a
  "$VENV/bin/zuofeng" migrate
  write_conf
  if running; then
    log "suite: supervisord already running; applying any config change"
    ctl update >/dev/null
  else
    "$VENV/bin/supervisord" -c "$CONF"
  fi
  local deadline=$((SECONDS + 90))
  until curl -fsS "$GATEWAY_URL/readyz" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      ctl status || true
      curl -sS "$GATEWAY_URL/readyz" || true
      die "suite: not ready after 90 s; logs in $SUITE_DIR/logs"
    fi
    sleep 1
  done
  ctl status
  cat <<URLS

zuofeng is up.
  gateway      $GATEWAY_URL          (API under /api/v1/<service>/, Open311 under /open311/v2/)
  readiness    $GATEWAY_URL/readyz
URLS
  for app in "${SERVICES[@]}"; do
    printf '  %-12s %s/docs\n' "$app" "http://127.0.0.1:$("$VENV/bin/python" -c "from services.common.suite import SERVICES; print(SERVICES['$app'])")"
  done
  cat <<URLS
  logs         $SUITE_DIR/logs/   (e-mails the suite sends: mailsink.log)
  hotline keys $RUN_DIR/keys/hotline-keys.json
  staff token  $VENV/bin/zuofeng dev-token --role triage_officer
URLS
  console_users
  echo "  stop         make down"
}

# The console and its local sign-in users (deploy/local/keycloak/zuofeng-realm.json; local development only).
console_users() {
  if ! bash "$here/keycloak.sh" status >/dev/null 2>&1; then
    echo "  console      $GATEWAY_URL/console/   (sign-in unavailable: Keycloak is not running; bash deploy/local/keycloak.sh up)"
    return 0
  fi
  cat <<USERS
  console      $GATEWAY_URL/console/   (sign in through Keycloak, http://127.0.0.1:${KEYCLOAK_PORT:-58080}/)
               user          password               role
               triage        zuofeng-triage         线索分办员 triage_officer
               investigator  zuofeng-investigator   纪检监察调查员 investigator
               organization  zuofeng-organization   组织部门经办人 org_officer
               evaluation    zuofeng-evaluation     督查考评办 evaluation_admin
               leader        zuofeng-leader         领导查阅 auditor
               admin         zuofeng-admin          系统管理员 admin
               unit-a        zuofeng-unit-a         事权单位经办人 unit_handler, 市社会保险中心 (dt-rsj-sb)
               unit-b        zuofeng-unit-b         事权单位经办人 unit_handler, 物业管理科 (dt-zjj-wy)
  keycloak     http://127.0.0.1:${KEYCLOAK_PORT:-58080}/admin/   (kcadmin / zuofeng-kcadmin)
USERS
}

down() {
  if running; then
    ctl shutdown >/dev/null
    log "suite: stopped"
  else
    log "suite: not running"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then ctl status; else echo "suite: not running"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
