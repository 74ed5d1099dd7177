#!/usr/bin/env bash
# Run ansible-test on this checkout.
# ansible-test insists on running from .../ansible_collections/cyris/kvm_auto, so the files git
# knows (tracked, and untracked but not ignored) are copied into such a tree first.
#   scripts/ansible-test.sh [--core 2.19|2.21] sanity|units|integration ARGS...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
core=2.19
if [ "${1:-}" = --core ]; then core=$2; shift 2; fi
# shellcheck source=scripts/env.sh
. "$here/env.sh" "$core"
tree="$KVM_AUTO_CACHE/ansible-test/$core/ansible_collections/cyris/kvm_auto"
mkdir -p "$tree"
(cd "$top" && git ls-files -z --cached --others --exclude-standard) |
  rsync -a --delete --from0 --files-from=- "$top/" "$tree/"
# rsync --files-from never deletes files that left the list: drop them by hand.
(cd "$tree" && find . -type f ! -path './tests/output/*' ! -path './.git/*' -print0) |
  while IFS= read -r -d '' f; do [ -e "$top/$f" ] || rm -f "$tree/$f"; done
# ansible-test lists files through git when a .git exists; give it a repository of the copy.
if [ ! -d "$tree/.git" ]; then git -C "$tree" init -q; fi
git -C "$tree" add -A >/dev/null 2>&1 || true
cd "$tree"
exec ansible-test "$@"
