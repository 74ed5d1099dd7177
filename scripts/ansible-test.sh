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
# One tree per ansible-core, command and lane (KVM_AUTO_TEST_LANE): scripts/test.sh runs some
# tiers side by side, and a sync for one run must not delete what another is using.
tree="$KVM_AUTO_WORK/ansible-test/$core-${1:-none}${KVM_AUTO_TEST_LANE:+-$KVM_AUTO_TEST_LANE}/ansible_collections/cyris/kvm_auto"
mkdir -p "$tree"
(cd "$top" && git ls-files -z --cached --others --exclude-standard) |
  rsync -a --delete --from0 --files-from=- "$top/" "$tree/"
# rsync --files-from never deletes files that left the list: drop them by hand.
(cd "$tree" && find . -type f ! -path './tests/output/*' ! -path './.git/*' -print0) |
  while IFS= read -r -d '' f; do [ -e "$top/$f" ] || rm -f "$tree/$f"; done
# ansible-test lists files through git when a .git exists; give it a repository of the copy.
if [ ! -d "$tree/.git" ]; then git -C "$tree" init -q; fi
git -C "$tree" add -A >/dev/null 2>&1 || true
# ansible-test gives Ansible only this tree's collection root: the collections installed beside
# the collection link (community.libvirt, by scripts/setup.sh) are linked into it.
root=$(cd "$tree/../../.." && pwd)
for installed in "$ANSIBLE_COLLECTIONS_PATH"/ansible_collections/*/*; do
  name=${installed#"$ANSIBLE_COLLECTIONS_PATH"/ansible_collections/}
  if [ ! -d "$installed" ] || [ "$name" = cyris/kvm_auto ]; then continue; fi
  mkdir -p "$root/ansible_collections/${name%/*}"
  ln -sfn "$installed" "$root/ansible_collections/$name"
done
# ansible-test hands the targets only a few environment variables, so this machine's settings
# (scripts/env.sh) reach them as variables: role targets get this file as extra vars, script
# targets pass it on themselves. Written after the sync, which would delete it.
if [ "${1:-}" = integration ]; then
  python3 - "$tree/tests/integration/integration_config.yml" <<'PY'
import json, os, sys
virt_type = os.environ.get('KVM_AUTO_VIRT_TYPE') or 'kvm'
settings = {
    'kvm_auto_test_virt_type': virt_type,
    'kvm_auto_test_template_repo': os.environ.get('KVM_AUTO_TEMPLATE_REPO') or '/var/lib/cyris-kvm-auto/templates',
    'kvm_auto_test_libguestfs_env': dict((k, v) for k, v in os.environ.items()
                                         if k in ('LIBGUESTFS_BACKEND', 'LIBGUESTFS_BACKEND_SETTINGS') and v),
}
with open(sys.argv[1], 'w') as handle:
    handle.write('# Written by scripts/ansible-test.sh from the environment.\n')
    for key, value in settings.items():
        handle.write('%s: %s\n' % (key, json.dumps(value)))
PY
fi
cd "$tree"
exec ansible-test "$@"
