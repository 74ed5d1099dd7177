#!/usr/bin/env bash
# The example deployment as an operator runs it, each way twice: deploy, deploy again, destroy,
# destroy again. Every run must succeed. (That a destroy leaves nothing behind, which a later
# deploy could trip on, the range targets check by listing what is left.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for action in deploy deploy destroy destroy; do
    echo "== e2e example: $action"
    if [ "$action" = destroy ]; then
        "$here/deploy-example.sh" --destroy
    else
        "$here/deploy-example.sh"
    fi
done
