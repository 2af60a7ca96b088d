#!/usr/bin/env bash
# Sets up this checkout on a Debian machine: Debian packages that are missing, RabbitMQ (installed when
# no broker answers on the configured port, started when installed but down), a venv with the package.
# Usage: scripts/bootstrap.sh [run|test]   (test also installs what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
AMQP_HOST=${EDEPOSIT_AMQP_HOST:-127.0.0.1}
AMQP_PORT=${EDEPOSIT_AMQP_PORT:-5672}
VENV=${VENV:-.venv}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

broker_answers() { timeout 2 bash -c "</dev/tcp/$AMQP_HOST/$AMQP_PORT" 2>/dev/null; }

want=()
for list in scripts/apt/*.txt; do
  case "$(basename "$list")" in
    test-*) [ "$mode" = test ] || continue ;;
  esac
  while read -r pkg _; do
    [ -n "$pkg" ] && [ "${pkg#\#}" = "$pkg" ] || continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || want+=("$pkg")
  done < "$list"
done
if ! broker_answers && ! command -v rabbitmq-server >/dev/null; then
  want+=(rabbitmq-server)
fi
if [ ${#want[@]} -gt 0 ]; then
  echo "installing Debian packages: ${want[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${want[@]}"
fi

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

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
extras=""
[ "$mode" = test ] && extras="[test]"
"$VENV/bin/pip" install -q --disable-pip-version-check -e ".$extras"

# A root master runs the daemons as this unprivileged user ([orchestrator] user, docs/operations.rst);
# a master that is not root runs them as its own user, so no account is needed then.
if [ "$(id -u)" -eq 0 ] && ! id -u edeposit >/dev/null 2>&1; then
  echo "creating the system user edeposit (the daemons run as it)"
  useradd --system --home-dir /var/lib/edeposit-amqpd --no-create-home --shell /usr/sbin/nologin edeposit
fi
