#!/usr/bin/env bash
# Sets up this checkout on a Debian machine: Debian packages that are missing, RabbitMQ (installed when
# no broker answers on the configured port, started when installed but down), a venv with the package.
# Usage: scripts/bootstrap.sh [run|test] [CONFIG]   (test also installs what the test suite needs)
# Only the back ends of the daemons CONFIG enables are installed (all of them for `test`);
# DRY_RUN=1 prints the packages it would install and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
AMQP_HOST=${EDEPOSIT_AMQP_HOST:-127.0.0.1}
AMQP_PORT=${EDEPOSIT_AMQP_PORT:-5672}
VENV=${VENV:-.venv}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

broker_answers() { timeout 2 bash -c "</dev/tcp/$AMQP_HOST/$AMQP_PORT" 2>/dev/null; }

CONFIG_FILE=${2:-${CONFIG:-}}
DRY_RUN=${DRY_RUN:-}

missing() {  # the named Debian packages that are not installed
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}

apt_install() {
  [ $# -gt 0 ] || return 0
  if [ -n "$DRY_RUN" ]; then echo "would install Debian packages: $*"; return 0; fi
  echo "installing Debian packages: $*"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"
}

# 1. What the venv needs (and the broker, when none answers), before anything else.
mapfile -t core < <(awk '$1 !~ /^#/ && NF {print $1}' scripts/apt/core.txt)
mapfile -t want < <(missing "${core[@]}")
if ! broker_answers && ! command -v rabbitmq-server >/dev/null; then
  want+=(rabbitmq-server)
fi
apt_install "${want[@]}"

# 2. The venv with the package, the documentation tools (`make docs` works right after) and, for
#    `test`, the test tools.
extras="[docs]"
[ "$mode" = test ] && extras="[docs,test]"
if [ -z "$DRY_RUN" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".$extras"
fi

# 3. The back ends of the daemons the config enables (every list for `test`).
select=(-m orchestrator.backends scripts/apt)
[ -n "$CONFIG_FILE" ] && select+=(-c "$CONFIG_FILE")
[ "$mode" = test ] && select+=(--tests)
needed_text=$("$VENV/bin/python" "${select[@]}")  # a bad config stops the setup here, saying why
mapfile -t needed <<< "$needed_text"
mapfile -t want < <(missing "${needed[@]}")
apt_install "${want[@]}"
[ -n "$DRY_RUN" ] && exit 0

if ! broker_answers; then
  if [ "$AMQP_HOST" = 127.0.0.1 ] || [ "$AMQP_HOST" = localhost ]; then
    echo "starting RabbitMQ"
    $SUDO rabbitmq-server -detached || true
    for _ in $(seq 1 60); do broker_answers && break; sleep 1; done
    $SUDO rabbitmqctl -q await_startup >/dev/null 2>&1 || true
  fi
  broker_answers || { echo "error: no RabbitMQ answers on $AMQP_HOST:$AMQP_PORT" >&2; exit 1; }
fi

if [ "$mode" = test ] && command -v rabbitmq-plugins >/dev/null; then
  # The tests make a throwaway vhost each; the management API does that in milliseconds.
  $SUDO rabbitmq-plugins -q enable rabbitmq_management >/dev/null
  for _ in $(seq 1 30); do timeout 2 bash -c "</dev/tcp/127.0.0.1/15672" 2>/dev/null && break; sleep 1; done
fi

# A root master runs the daemons as this unprivileged user ([orchestrator] user, docs/operations.rst);
# a master that is not root runs them as its own user, so no account is needed then.
if [ "$(id -u)" -eq 0 ] && ! id -u edeposit >/dev/null 2>&1; then
  echo "creating the system user edeposit (the daemons run as it)"
  useradd --system --home-dir /var/lib/edeposit-amqpd --no-create-home --shell /usr/sbin/nologin edeposit
fi
