#!/usr/bin/env bash
# The collection's execution-environment metadata works as ansible-builder reads it: from the
# built tarball (what Galaxy serves), meta/execution-environment.yml names requirements.txt and
# bindep.txt, ansible-builder's own introspection reads both, bindep parses bindep.txt and gives
# Debian and Fedora/RHEL the package of every tool the modules run, and `ansible-builder create`
# accepts an execution environment that installs the collection. No container engine needed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --output-path "$work" "$top" > /dev/null
tarball=$(echo "$work"/cyris-kvm_auto-*.tar.gz)
# Only the tarball may be seen: not the checkout that scripts/setup.sh links in.
export ANSIBLE_COLLECTIONS_PATH="$work/installed"
# --no-deps: community.libvirt (galaxy.yml) comes from a collection server, out of reach here.
ansible-galaxy collection install --offline --no-deps --force -p "$work/installed" "$tarball" > /dev/null

# The script ansible-builder runs inside the build, here on the installed tarball.
ansible-builder introspect --sanitize --write-pip "$work/pip.txt" --write-bindep "$work/bindep.txt" \
    "$work/installed" > "$work/introspect.yml"
python - "$work" "$top" <<'PY'
import os
import sys

import yaml
from bindep.depends import Depends

work, top = sys.argv[1:]
sys.path.insert(0, os.path.join(work, 'installed'))
from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_requirements import PACKAGES

problems = []
found = yaml.safe_load(open(os.path.join(work, 'introspect.yml')))
for kind, source in (('python', 'requirements.txt'), ('system', 'bindep.txt')):
    if not any(entry.endswith('# from collection cyris.kvm_auto') for entry in found.get(kind) or ()):
        problems.append('ansible-builder introspect found no %s requirements of cyris.kvm_auto '
                        '(meta/execution-environment.yml dependencies.%s: %s, in the tarball)' % (kind, kind, source))
if 'libvirt-python' not in ' '.join(found.get('python') or ()):
    problems.append('requirements.txt: libvirt-python, which kvm_auto_vm and kvm_auto_network import, is missing')
with open(os.path.join(work, 'installed', 'ansible_collections', 'cyris', 'kvm_auto', 'bindep.txt')) as handle:
    depends = Depends(handle.read())  # raises on a syntax error
# The controller's tools; libvirtd itself runs on the KVM host, never in an execution environment.
tools = [tool for tool in PACKAGES if tool != 'libvirtd']
for platform, family in (('platform:dpkg', 'Debian'), ('platform:rpm', 'RedHat')):
    packages = [rule[0] for rule in depends.active_rules([platform, 'default'])]
    for tool in tools:
        if PACKAGES[tool][family] not in packages:
            problems.append('bindep.txt: %s (%s) is not listed for %s' % (PACKAGES[tool][family], tool, platform))
    print('bindep %s: %s' % (platform, ' '.join(packages)))
if problems:
    sys.exit('\n'.join(problems))
PY

# An execution environment that installs this collection from its tarball.
cat > "$work/execution-environment.yml" <<EOF
---
version: 3
images:
  base_image:
    name: quay.io/fedora/fedora:latest
dependencies:
  ansible_core:
    package_pip: ansible-core>=2.19
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: collections/$(basename "$tarball")
        type: file
additional_build_files:
  - src: $tarball
    dest: collections
EOF
ansible-builder create --file "$work/execution-environment.yml" --context "$work/context" > /dev/null
[ -f "$work/context/_build/collections/$(basename "$tarball")" ] ||
    { echo "ansible-builder create left the collection out of the build context" >&2; exit 1; }
echo "execution environment: ansible-builder reads the metadata of $(basename "$tarball") and creates a build context"
