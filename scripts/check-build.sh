#!/usr/bin/env bash
# The collection builds into a tarball that installs, and ansible-doc reads its content: every
# module, and every role with each variable of its defaults/main.yml documented.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --output-path "$work" "$top"
tarball=$(echo "$work"/cyris-kvm_auto-*.tar.gz)
# Only the tarball may be seen: not the checkout that scripts/setup.sh links in.
export ANSIBLE_COLLECTIONS_PATH="$work/installed"
# --no-deps: community.libvirt (galaxy.yml) comes from a collection server, out of reach here.
ansible-galaxy collection install --offline --no-deps --force -p "$work/installed" "$tarball"
ansible-doc --list cyris.kvm_auto --type module | tee "$work/modules"
for module in kvm_auto_image kvm_auto_vm kvm_auto_guest_exec; do
    grep -q "^cyris.kvm_auto.$module " "$work/modules" || { echo "module $module missing from the tarball" >&2; exit 1; }
    ansible-doc cyris.kvm_auto.$module > /dev/null
done
ansible-doc --type inventory cyris.kvm_auto.range > /dev/null
python - "$work/installed/ansible_collections/cyris/kvm_auto" <<'PY'
# Each role's meta/argument_specs.yml documents, in its entry point main, every variable of its
# defaults/main.yml with the same default, and ansible-doc shows it from the installed tarball.
import json
import os
import subprocess
import sys

import yaml

collection = sys.argv[1]
problems = []
for role in sorted(os.listdir(os.path.join(collection, 'roles'))):
    where = os.path.join(collection, 'roles', role)
    if not os.path.isfile(os.path.join(where, 'meta', 'argument_specs.yml')):
        problems.append('role %s: meta/argument_specs.yml is missing' % role)
        continue
    defaults = {}
    if os.path.isfile(os.path.join(where, 'defaults', 'main.yml')):
        with open(os.path.join(where, 'defaults', 'main.yml')) as handle:
            defaults = yaml.safe_load(handle) or {}
    name = 'cyris.kvm_auto.' + role
    doc = json.loads(subprocess.check_output(['ansible-doc', '--type', 'role', '--json', name]))
    entry_points = doc.get(name, {}).get('entry_points', {})
    if 'main' not in entry_points:
        problems.append('role %s: meta/argument_specs.yml has no entry point main' % role)
        continue
    options = entry_points['main'].get('options') or {}
    for variable, value in defaults.items():
        if variable not in options:
            problems.append('role %s: %s (defaults/main.yml) is not documented in meta/argument_specs.yml' % (role, variable))
        elif options[variable].get('default') != value:
            problems.append('role %s: %s has default %r in meta/argument_specs.yml but %r in defaults/main.yml'
                            % (role, variable, options[variable].get('default'), value))
    print('role %s: %d variables documented' % (role, len(options)))
if problems:
    sys.exit('\n'.join(problems))
PY
# Listed into a variable first: under pipefail a failing tar piped into grep would read as "clean".
contents=$(tar -tzf "$tarball")
if grep -E '^(tests/output|scripts|\.ci)/' <<<"$contents"; then
    echo "development files in the tarball" >&2
    exit 1
fi
echo "collection tarball: $(basename "$tarball") installs, ansible-doc reads it"
