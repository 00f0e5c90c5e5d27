#!/usr/bin/env bash
# Starts the cluster of the Procfile without a Procfile runner: two nodes and
# the balancer, stopped together with Ctrl-C. Needs PostgreSQL and Redis
# (createdb latchkey first) and LATCHKEY_MASTER_KEY.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${LATCHKEY_MASTER_KEY:?set LATCHKEY_MASTER_KEY (openssl rand -base64 32), the same for every node}"
trap 'kill 0' EXIT
LATCHKEY_LISTEN_PORT=3001 LATCHKEY_OPERATIONS_PORT=9471 node dist/cli/bin.cjs serve --config examples/cluster/latchkey.yaml &
LATCHKEY_LISTEN_PORT=3002 LATCHKEY_OPERATIONS_PORT=9472 node dist/cli/bin.cjs serve --config examples/cluster/latchkey.yaml &
BALANCER_PORT=8080 NODES=http://127.0.0.1:3001,http://127.0.0.1:3002 node examples/cluster/balancer.mjs &
wait
