#!/usr/bin/env bash
# The example deployment as an operator runs it, each way twice: deploy, deploy again, destroy,
# destroy again, deploy once more, and destroy to leave the machine clean. Every run must succeed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for action in deploy deploy destroy destroy deploy destroy; do
    echo "== e2e example: $action"
    if [ "$action" = destroy ]; then
        "$here/deploy-example.sh" --destroy
    else
        "$here/deploy-example.sh"
    fi
done
