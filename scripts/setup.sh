#!/usr/bin/env bash
# Turn a fresh Debian 12 machine (root, with or without systemd) into a working cyris.kvm_auto
# controller and KVM host, and this checkout into the collection cyris.kvm_auto. Idempotent:
# every heavy step is skipped when its result is already there, so a second run takes seconds.
#
#   scripts/setup.sh            # everything (as root)
#   scripts/setup.sh python     # only the Python side: the venvs, the ansible-test pip cache and
#                               # the collection link; needs no root once the venvs exist
#   SETUP_SKIP_TEMPLATE=1 ...   # all but the offline template repository
#
# It prints how long each step took; run it twice to see cold and warm figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
part=${1:-all}
case $part in all | python) ;; *) echo "usage: scripts/setup.sh [python]" >&2; exit 2 ;; esac
set --  # env.sh takes the ansible-core major from its first argument
# shellcheck source=scripts/env.sh
. "$here/env.sh"

timings=()
step() {  # step NAME COMMAND...: run one step and remember how long it took
    local name=$1 start end
    shift
    echo "== setup: $name"
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    timings+=("$(printf '%-28s %7.1f s' "$name" "$(echo "$end - $start" | bc)")")
}

die() { echo "setup: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

check_host() {
    is_root || die "run as root: it installs packages and starts libvirtd"
    # shellcheck disable=SC1091
    . /etc/os-release 2>/dev/null || die "cannot read /etc/os-release: this setup supports Debian 12"
    [ "${ID:-}" = debian ] || [ "${ID_LIKE:-}" = debian ] ||
        die "this host runs ${PRETTY_NAME:-an unknown OS}; this setup supports Debian 12 (bookworm). On other hosts use the role cyris.kvm_auto.kvm_host."
    local free_kib
    free_kib=$(df --output=avail -k /var | tail -1)
    [ "$free_kib" -ge $((8 * 1024 * 1024)) ] ||
        die "/var has $((free_kib / 1024)) MiB free; the template repository, images and guests need 8 GiB"
}

# Only what creating the Python environments and the test scripts need (tcpdump reads the capture
# files of range_topology); the KVM and libguestfs packages come from the collection's own role
# cyris.kvm_auto.kvm_host, as on any host an operator prepares.
BOOTSTRAP_PACKAGES=(bc git rsync gcc pkg-config libvirt-dev python3-apt openssh-server openssh-client sshpass shellcheck tcpdump)
install_bootstrap_packages() {
    local missing=() pkg status
    for pkg in "${BOOTSTRAP_PACKAGES[@]}"; do
        # Captured, not piped into grep -q: under pipefail an early-exiting reader fails the test.
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && { echo "all present"; return; }
    is_root || die "missing packages ${missing[*]}: run once as root: scripts/setup.sh $part"
    apt-get update -qq || die "apt-get update failed: check the Debian package sources"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
        die "could not install ${missing[*]}"
}

python_for() {  # the interpreter each ansible-core major is tested with
    local want
    case $1 in 2.19) want=3.11 ;; 2.21) want=3.12 ;; *) die "unknown ansible-core $1" ;; esac
    for py in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/python "$(command -v "python$want" || true)"; do
        [ -x "$py" ] && { echo "$py"; return; }
    done
    die "Python $want is needed for ansible-core $1 (pyenv install $want, or apt-get install python$want-venv)"
}

make_venv() {  # make_venv CORE: the environment, rebuilt only when its requirements change
    local core=$1 venv="$KVM_AUTO_CACHE/venv/ansible-$1" req="$top/tests/requirements-$1.txt" stamp
    stamp=$(sha256sum "$req" | cut -d' ' -f1)
    if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$stamp" ] && "$venv/bin/python" -c '' 2>/dev/null; then
        echo "up to date"
        return
    fi
    # Users other than root only read the shared environments; they cannot make or update them.
    if ! mkdir -p "$KVM_AUTO_CACHE/venv" 2>/dev/null || [ ! -w "$KVM_AUTO_CACHE/venv" ]; then
        if [ -L "$venv/bin/python" ] && ! "$venv/bin/python" -c '' 2>/dev/null; then
            die "$venv runs $(readlink "$venv/bin/python"), which $(id -un) cannot run (root's pyenv?): root must make the shared environments with a Python every user can run (PYENV_ROOT outside /root, then rm -rf $venv; scripts/setup.sh python), or make your own: KVM_AUTO_CACHE=\$HOME/.cache/cyris-kvm-auto scripts/setup.sh python"
        fi
        local state=missing
        [ -x "$venv/bin/python" ] && state="out of date ($req changed)"
        die "$venv is $state and $(id -un) may not write $KVM_AUTO_CACHE/venv: run once as root: scripts/setup.sh $part"
    fi
    [ -x "$venv/bin/python" ] || "$(python_for "$core")" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$stamp" > "$venv/.requirements.sha256"
}

# ansible-test bootstraps pip in its environments with a script it downloads from a host this
# machine cannot reach; it first looks in its cache (per user), where this places an offline stand-in.
seed_ansible_test_cache() {
    local core ver
    for core in 2.19 2.21; do
        ver=$("$KVM_AUTO_CACHE/venv/ansible-$core/bin/python" - <<'PY'
import inspect
from ansible_test._internal import python_requirements as pr
src = inspect.getsource(pr.get_venv_packages)
print(src.split("pip='", 1)[1].split("'", 1)[0])
PY
)
        mkdir -p "$HOME/.ansible/test/cache"
        install -m 0644 "$here/get-pip-offline.py" "$HOME/.ansible/test/cache/get_pip_${ver//./_}.py"
    done
}

link_collection() {
    local link="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/cyris/kvm_auto"
    mkdir -p "$(dirname "$link")"
    [ "$(readlink "$link" 2>/dev/null)" = "$top" ] || ln -sfn "$top" "$link"
}

# Follow-on plays reach the deployed guests through their guest agents with community.libvirt's
# libvirt_qemu connection. This machine reaches no collection server, only the Python package
# index, whose package `ansible` carries the community collections: that one collection is taken
# out of its wheel (kept in the cache), as an installed collection with its MANIFEST.json.
COMMUNITY_LIBVIRT_VERSION=2.0.0
COMMUNITY_LIBVIRT_WHEEL=ansible==12.3.0
install_community_libvirt() {
    local dest="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/community/libvirt" wheels="$KVM_AUTO_WORK/wheels"
    local python="$KVM_AUTO_CACHE/venv/ansible-2.19/bin/python" have
    have=$(collection_version "$dest")
    if [ "$have" = "$COMMUNITY_LIBVIRT_VERSION" ]; then
        echo "$have present"
        return
    fi
    mkdir -p "$wheels"
    "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        -d "$wheels" "$COMMUNITY_LIBVIRT_WHEEL" || die "could not download $COMMUNITY_LIBVIRT_WHEEL with pip"
    rm -rf "$dest.new"
    "$python" - "$wheels/${COMMUNITY_LIBVIRT_WHEEL/==/-}-py3-none-any.whl" "$dest.new" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1:]
prefix = 'ansible_collections/community/libvirt/'
with zipfile.ZipFile(wheel) as archive:
    for member in archive.infolist():
        if member.filename.startswith(prefix) and not member.is_dir():
            target = os.path.join(dest, member.filename[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(member) as source, open(target, 'wb') as copy:
                copy.write(source.read())
PY
    have=$(collection_version "$dest.new")
    [ "$have" = "$COMMUNITY_LIBVIRT_VERSION" ] ||
        die "$COMMUNITY_LIBVIRT_WHEEL holds community.libvirt ${have:-nothing}, not $COMMUNITY_LIBVIRT_VERSION"
    rm -rf "$dest" && mv "$dest.new" "$dest"
    echo "community.libvirt $have installed in $ANSIBLE_COLLECTIONS_PATH"
}

collection_version() {  # the version an installed collection's MANIFEST.json gives, or nothing
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' \
        "$1/MANIFEST.json" 2>/dev/null || true
}

run_playbook() { (cd "$top" && ansible-playbook "$@"); }

[ "$part" = python ] || step "check host" check_host
step "bootstrap packages" install_bootstrap_packages
step "venv ansible-core 2.19" make_venv 2.19
step "venv ansible-core 2.21" make_venv 2.21
step "ansible-test pip cache" seed_ansible_test_cache
step "collection link" link_collection
step "community.libvirt" install_community_libvirt
if [ "$part" = all ]; then
    step "kvm host (role kvm_host)" run_playbook playbooks/setup_host.yml
    if [ -z "${SETUP_SKIP_TEMPLATE:-}" ]; then
        step "template repository" run_playbook playbooks/build_template_repo.yml \
            -e template_repo_dir="$KVM_AUTO_TEMPLATE_REPO"
    fi
fi

echo "== setup: done ($part)"
printf '%s\n' "${timings[@]}"
