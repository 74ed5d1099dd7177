# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import libvirt
import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import (
    FORWARDING_FIELD, IDENTITY_ENTRY, IMAGE_PIECES_DIGEST, NO_IPTABLES_MESSAGE, NO_SSHD_MESSAGE, SSH_FIELD, SSHD_PATH,
    IdentityError, format_identity, forwarding_check_command, fw_cfg_decode, fw_cfg_encode, image_install,
    mask_identity, parse_identity, ssh_check_command, with_trainee)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity_script import (
    GUEST_SCRIPT, GUEST_UNIT, SCRIPT_PATH, UNIT_NAME)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_key import image_key, summarize
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_tasks import failed_field, normalize_tasks, plan_build
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import MASK
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_compare import (
    DEFINITION_FIELDS, current_view, desired_view, differences, plan_actions, restart_required)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_identity import (
    domain_identity, identity_file_path, read_identity_file, set_identity, write_identity_file)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_run import VmRun
from ansible_collections.cyris.kvm_auto.plugins.modules.kvm_auto_vm import argument_spec

HEAD = 'kvm-auto-identity 1\nhostname gw\n'
ROUTER = (
    'kvm-auto-identity 1\n'
    'hostname gw.range.example\n'
    'address 52:54:0a:00:00:01 10.0.0.1/24\n'
    'address 52:54:0a:00:01:01 10.0.1.1/24\n'
    'gateway 10.0.1.254\n'
    'forwarding on\n'
    'accept tcp 10.0.0.0/24 10.0.1.5,10.0.1.6 - 22\n'
    'accept tcp 10.0.0.0/24 10.0.1.5 1024 80,443\n'
    'accept tcp 0.0.0.0/0 10.0.1.7 - -\n'
    'accept tcp 10.0.1.0/24 10.0.0.0/24 1024:65535 -\n'
)
# openssl passwd -6 -salt saltsalt 'correct horse'
HASH = '$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0'
CRYPTED = HASH.rsplit('$', 1)[1]
TRAINEE = {'name': 'trainee01', 'password_hash': HASH, 'sudo': True}
ENTRY = HEAD + 'trainee trainee01 %s sudo\n' % HASH


# ---- the text format, on the controller --------------------------------------------------------

def test_parse_router():
    identity = parse_identity(ROUTER)
    assert identity['hostname'] == 'gw.range.example'
    assert identity['addresses'] == [{'mac': '52:54:0a:00:00:01', 'address': '10.0.0.1/24'},
                                     {'mac': '52:54:0a:00:01:01', 'address': '10.0.1.1/24'}]
    assert identity['gateway'] == '10.0.1.254' and identity['forwarding'] is True
    assert identity['accepts'][1] == {'sources': '10.0.0.0/24', 'destinations': '10.0.1.5', 'source_ports': '1024',
                                      'destination_ports': '80,443'}


def test_format_is_the_inverse_of_parse():
    text = format_identity('gw.range.example',
                           [{'mac': '52:54:0A:00:00:01', 'address': '10.0.0.1/24'},
                            {'mac': '52:54:0a:00:01:01', 'address': '10.0.1.1/24'}],
                           gateway='10.0.1.254', forwarding=True,
                           accepts=[{'sources': ['10.0.0.0/24'], 'destinations': ['10.0.1.5', '10.0.1.6'],
                                     'destination_ports': 22},
                                    {'sources': '10.0.0.0/24', 'destinations': '10.0.1.5', 'source_ports': [1024],
                                     'destination_ports': [80, 443]},
                                    {'sources': '0.0.0.0/0', 'destinations': '10.0.1.7'},
                                    {'sources': '10.0.1.0/24', 'destinations': '10.0.0.0/24',
                                     'source_ports': '1024:65535'}])
    assert text == ROUTER


@pytest.mark.parametrize('trainee, line', [
    (TRAINEE, 'trainee trainee01 %s sudo' % HASH),
    (dict(TRAINEE, sudo=False), 'trainee trainee01 %s -' % HASH),
])
def test_format_and_parse_the_trainee(trainee, line):
    text = format_identity('gw', trainee=trainee)
    assert text == HEAD + line + '\n'
    assert parse_identity(text)['trainee'] == trainee
    assert parse_identity(HEAD)['trainee'] is None


# Trainee lines both sides accept: the account rule of _cyris_schema and glibc's SHA-512 crypt.
GOOD_TRAINEE_LINES = [
    'trainee trainee01 %s sudo' % HASH,
    'trainee first.last %s -' % HASH,
    'trainee _x-1 %s -' % HASH,
    'trainee %s %s -' % ('a' * 32, HASH),
    'trainee t $6$rounds=5000$saltsalt$%s sudo' % CRYPTED,
    'trainee t $6$rounds=999999999$saltsalt$%s sudo' % CRYPTED,
    'trainee t $6$s$%s sudo' % CRYPTED,
    'trainee t $6$./0123456789AbCz$%s sudo' % CRYPTED,
]


@pytest.mark.parametrize('line', GOOD_TRAINEE_LINES)
def test_parse_accepts_trainee_lines(line):
    fields = line.split(' ')
    assert parse_identity(HEAD + line + '\n')['trainee'] == {
        'name': fields[1], 'password_hash': fields[2], 'sudo': fields[3] == 'sudo'}


def test_format_refuses_what_the_guest_would_skip():
    with pytest.raises(IdentityError, match="line 2 'hostname -gw'"):
        format_identity('-gw')


# Each bad line: parse_identity refuses it, and the guest script skips it with a message.
BAD_LINES = [
    ('hostname second', 'a second hostname line'),
    ('hostname', 'expected hostname NAME'),
    ('address 52:54:0a:00:00:01', 'expected address MAC'),
    ('address 52:54:0A:00:00:01 10.0.0.1/24', 'expected address MAC'),
    ('address 52:54:0a:00:00:1 10.0.0.1/24', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0.1', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0.1/0', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0.1/33', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0.256/24', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0.01/24', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0.1/08', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0.1/24/1', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0/24', 'expected address MAC'),
    ('address 52:54:0a:00:00:01 10.0.0.1./24', 'expected address MAC'),
    ('gateway 10.0.0.x', 'expected gateway IPV4'),
    ('gateway $(reboot)', 'expected gateway IPV4'),
    ('forwarding off', 'expected forwarding on'),
    ('forwarding on on', 'expected forwarding on'),
    ('accept udp 10.0.0.0/24 10.0.1.5 - 53', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - 080', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - 0', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - 65536', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - 22,', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - 1024:1', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - 1:2:3', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - 0:22', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - ' + ','.join('%d:%d' % (p, p + 1) for p in range(1, 17, 2)), 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - ' + ','.join(str(p) for p in range(1, 17)), 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24,,10.0.2.0/24 10.0.1.5 - 22', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/33 10.0.1.5 - 22', 'expected accept tcp'),
    ('accept tcp 10.0.0.0/24 10.0.1.5 - 22 extra', 'expected accept tcp'),
    ('accept tcp any 10.0.1.5 - 22', 'expected accept tcp'),
    ('address  52:54:0a:00:00:01 10.0.0.1/24', 'fields must be separated by single spaces'),
    ('forwarding on ', 'fields must be separated by single spaces'),
    ('bogus $(reboot) `id`', 'unknown line'),
    ('hostname\tgw', 'unknown line'),
    ('trainee Trainee01 %s sudo' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee 1trainee %s sudo' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee -trainee %s sudo' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee %s %s sudo' % ('a' * 33, HASH), 'expected trainee NAME HASH ADMIN'),
    ('trainee tr$inee %s sudo' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee $(reboot) %s sudo' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee root %s sudo' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 %s admin' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 %s' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 %s sudo extra' % HASH, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 correct-horse sudo', 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $5$saltsalt$%s sudo' % CRYPTED, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$%s sudo' % CRYPTED, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$$%s sudo' % CRYPTED, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$%s$%s sudo' % ('s' * 17, CRYPTED), 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$saltsalt$%s sudo' % CRYPTED[1:], 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$saltsalt$%s* sudo' % CRYPTED[1:], 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$salt,salt$%s sudo' % CRYPTED, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$rounds=999$saltsalt$%s sudo' % CRYPTED, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$rounds=01000$saltsalt$%s sudo' % CRYPTED, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$rounds=1000000000$saltsalt$%s sudo' % CRYPTED, 'expected trainee NAME HASH ADMIN'),
    ('trainee trainee01 $6$rounds=$saltsalt$%s sudo' % CRYPTED, 'expected trainee NAME HASH ADMIN'),
]


@pytest.mark.parametrize('line, problem', BAD_LINES)
def test_parse_refuses_bad_lines(line, problem):
    with pytest.raises(IdentityError, match='line 3 .*: ' + problem.replace('$', r'\$')):
        parse_identity(HEAD + line + '\n')


@pytest.mark.parametrize('text, problem', [
    ('', "line 1 must be 'kvm-auto-identity 1'"),
    ('kvm-auto-identity 2\nhostname gw\n', "line 1 must be 'kvm-auto-identity 1', got 'kvm-auto-identity 2'"),
    ('kvm-auto-identity 1\n', 'no hostname line'),
    (HEAD + 'accept tcp 10.0.0.0/24 10.0.1.5 - 22\n', 'accept lines need a forwarding on line'),
    (HEAD + 'address 52:54:0a:00:00:01 10.0.0.1/24\naddress 52:54:0a:00:00:01 10.0.0.2/24\n',
     'line 4 .*a second address for 52:54:0a:00:00:01'),
    (HEAD + 'gateway 10.0.0.1\ngateway 10.0.0.2\n', 'line 4 .*a second gateway line'),
    (ENTRY + 'trainee trainee02 %s -\n' % HASH, 'line 4 .*a second trainee line'),
])
def test_parse_refuses_bad_texts(text, problem):
    with pytest.raises(IdentityError, match=problem):
        parse_identity(text)


def test_parse_accepts_blank_lines_and_no_final_newline():
    assert parse_identity(HEAD + '\nforwarding on')['forwarding'] is True


# ---- the trainee line in an identity kvm_auto_vm was given ---------------------------------------

@pytest.mark.parametrize('text, trainee, expected', [
    (ROUTER, TRAINEE, ROUTER + 'trainee trainee01 %s sudo\n' % HASH),
    (ENTRY, dict(TRAINEE, name='trainee02', sudo=False), HEAD + 'trainee trainee02 %s -\n' % HASH),
    (HEAD + 'trainee trainee09 %s -\nforwarding on\n\n' % HASH, TRAINEE, HEAD + 'forwarding on\n' + ENTRY[len(HEAD):]),
    (ENTRY, None, HEAD),
    (HEAD.rstrip('\n'), TRAINEE, ENTRY),
])
def test_with_trainee_replaces_any_trainee_line(text, trainee, expected):
    assert with_trainee(text, trainee) == expected
    assert parse_identity(expected)['trainee'] == trainee


@pytest.mark.parametrize('text, trainee, problem', [
    # Never quoted: a hash (or, by mistake, a password) in a trainee line is masked.
    (HEAD, dict(TRAINEE, password_hash='correct horse'), "line 3 'trainee trainee01 ******** ******** sudo'"),
    (HEAD, dict(TRAINEE, name='root'), 'expected trainee NAME HASH ADMIN'),
    (None, TRAINEE, "line 1 must be 'kvm-auto-identity 1'"),
    (HEAD + 'gateway x\n', TRAINEE, 'expected gateway IPV4'),
])
def test_with_trainee_refuses_what_the_guest_would_skip(text, trainee, problem):
    with pytest.raises(IdentityError, match=re.escape(problem)):
        with_trainee(text, trainee)


@pytest.mark.parametrize('text, expected', [
    (ENTRY, HEAD + 'trainee trainee01 %s sudo\n' % MASK),
    (ROUTER, ROUTER),
    (None, None),
    # Lines the parser refuses are masked too: a hash never reaches a diff or a message.
    (HEAD + 'trainee trainee01 %s\n' % HASH, HEAD + 'trainee trainee01 %s\n' % MASK),
    (HEAD + 'trainee trainee01 %s - x\n' % HASH, HEAD + 'trainee trainee01 %s %s %s\n' % (MASK, MASK, MASK)),
    (HEAD + 'trainee  trainee01 %s -' % HASH, HEAD + 'trainee  %s %s -' % (MASK, MASK)),
])
def test_mask_identity_hides_the_hash(text, expected):
    assert mask_identity(text) == expected
    assert HASH not in str(mask_identity(text))


# ---- the guest script, run with sh against fake /etc, /run, /proc and /sys ---------------------

FAKE_COMMAND = u'#!/bin/sh\necho "%s $*" >> "$FAKE_LOG"\n'
FAKE_SYSTEMCTL = u'''#!/bin/sh
echo "systemctl $*" >> "$FAKE_LOG"
case "$*" in *"is-enabled $FAKE_ENABLED") exit 0 ;; esac
exit 1
'''
FAKE_USERADD = u'''#!/bin/sh
echo "useradd $*" >> "$FAKE_LOG"
[ -z "$FAKE_USERADD_FAILS" ] || exit 1
for name; do :; done
echo "$name:x:1001:1001::/home/$name:/bin/sh" >> "$KVM_AUTO_ROOT/etc/passwd"
'''
FAKE_CHPASSWD = u'''#!/bin/sh
echo "chpasswd $*" >> "$FAKE_LOG"
cat >> "$FAKE_CHPASSWD_INPUT"
'''
FAKE_IPTABLES = u'''#!/bin/sh
echo "$*" >> "$FAKE_IPTABLES_LOG"
case "$*" in *" -D "*) exit 1 ;; esac
exit 0
'''


class Guest:
    """A fake guest root and PATH; ``run`` applies an identity text with the real script."""

    def __init__(self, base, shell=('sh',)):
        self.base = base
        self.shell = list(shell)
        self.root = base / 'root'
        self.bin = base / 'bin'
        for directory in ('etc/ssh', 'proc/sys/kernel', 'proc/sys/net/ipv4', 'bin'):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        self.bin.mkdir()
        (self.root / 'etc/hosts').write_text(u'127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost\n')
        (self.root / 'etc/hostname').write_text(u'debian\n')
        (self.root / 'proc/sys/kernel/hostname').write_text(u'debian')
        (self.root / 'proc/sys/net/ipv4/ip_forward').write_text(u'1\n')
        (self.root / 'etc/passwd').write_text(u'root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000::/home/debian:/bin/sh\n')
        # As the debian-12 template has it: the drop-ins first, password login left at its default.
        (self.root / 'etc/ssh/sshd_config').write_text(u'Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\n')
        # Every command the script may start is faked: nothing touches this host.
        for name in ('modprobe', 'ip', 'networkctl', 'nmcli'):
            self._fake(name, FAKE_COMMAND % name)
        self._fake('systemctl', FAKE_SYSTEMCTL)
        # The account tools too (the tests run as root on the build host).
        self._fake('useradd', FAKE_USERADD)
        self._fake('chpasswd', FAKE_CHPASSWD)
        self.iptables = self._fake('iptables-fake', FAKE_IPTABLES)
        self.script = base / 'kvm-auto-identity'
        self.script.write_text(GUEST_SCRIPT)

    def _fake(self, name, text):
        path = self.bin / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def add_nic(self, name, mac):
        path = self.root / 'sys/class/net' / name
        path.mkdir(parents=True)
        (path / 'address').write_text(mac + u'\n')

    def run(self, text, enabled='systemd-networkd.service', iptables=True, useradd_fails=False):
        entry = self.base / 'identity'
        if text is None:
            entry = self.base / 'no-such-entry'
        else:
            entry.write_text(fw_cfg_encode(text))  # as QEMU gets it from the domain definition
        env = {'PATH': '%s:/usr/bin:/bin' % self.bin, 'FAKE_LOG': str(self.base / 'commands'),
               'FAKE_IPTABLES_LOG': str(self.base / 'iptables'), 'FAKE_ENABLED': enabled,
               'FAKE_CHPASSWD_INPUT': str(self.base / 'chpasswd-input'), 'FAKE_USERADD_FAILS': 'yes' if useradd_fails else '',
               'KVM_AUTO_IDENTITY_FILE': str(entry), 'KVM_AUTO_ROOT': str(self.root),
               'KVM_AUTO_IPTABLES': str(self.iptables) if iptables else str(self.base / 'no-iptables')}
        return subprocess.run(self.shell + [str(self.script)], env=env, capture_output=True, text=True, timeout=60, check=False)

    def read(self, relative):
        return (self.root / relative).read_text()

    def log(self, name):
        path = self.base / name
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def guest(tmp_path):
    return Guest(tmp_path)


# The script is POSIX sh: the same result from dash, bash in POSIX mode and busybox ash.
SHELLS = [shell for shell in (['sh'], ['bash', '--posix'], ['busybox', 'sh']) if shutil.which(shell[0])]


@pytest.mark.parametrize('shell', SHELLS, ids=[shell[0] for shell in SHELLS])
def test_router_on_systemd_networkd(tmp_path, shell):
    guest = Guest(tmp_path, shell)
    done = guest.run(ROUTER)
    assert done.returncode == 0, done.stderr
    assert guest.read('etc/hostname') == 'gw.range.example\n'
    assert guest.read('proc/sys/kernel/hostname') == 'gw.range.example'
    assert guest.read('etc/hosts') == '127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\tgw.range.example gw\n'
    first = guest.read('run/systemd/network/05-kvm-auto-52540a000001.network')
    assert 'MACAddress=52:54:0a:00:00:01\n' in first and 'Address=10.0.0.1/24\n' in first
    assert 'DHCP=no\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' in first and 'Gateway' not in first
    # The default route goes with the address whose network holds the gateway.
    assert guest.read('run/systemd/network/05-kvm-auto-52540a000101.network').endswith(
        'Address=10.0.1.1/24\nGateway=10.0.1.254\n')
    assert guest.log('iptables') == [
        '-w -P FORWARD DROP',
        '-w -N KVM-AUTO-FORWARD',
        '-w -D FORWARD -j KVM-AUTO-FORWARD',
        '-w -I FORWARD 1 -j KVM-AUTO-FORWARD',
        '-w -A KVM-AUTO-FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
        '-w -A KVM-AUTO-FORWARD -p tcp -s 10.0.0.0/24 -d 10.0.1.5,10.0.1.6 --dport 22 -m conntrack --ctstate NEW -j ACCEPT',
        '-w -A KVM-AUTO-FORWARD -p tcp -s 10.0.0.0/24 -d 10.0.1.5 -m multiport --sports 1024 --dports 80,443 '
        '-m conntrack --ctstate NEW -j ACCEPT',
        '-w -A KVM-AUTO-FORWARD -p tcp -s 0.0.0.0/0 -d 10.0.1.7 -m conntrack --ctstate NEW -j ACCEPT',
        '-w -A KVM-AUTO-FORWARD -p tcp -s 10.0.1.0/24 -d 10.0.0.0/24 --sport 1024:65535 -m conntrack --ctstate NEW -j ACCEPT',
    ]
    assert guest.read('proc/sys/net/ipv4/ip_forward') == '1\n'
    assert 'forwarding on' in done.stderr


def test_network_manager_keyfiles(guest):
    done = guest.run(ROUTER, enabled='NetworkManager.service')
    assert done.returncode == 0, done.stderr
    path = guest.root / 'run/NetworkManager/system-connections/kvm-auto-52540a000101.nmconnection'
    assert oct(path.stat().st_mode & 0o777) == '0o600'  # NetworkManager ignores keyfiles others can read
    text = path.read_text()
    assert 'mac-address=52:54:0a:00:01:01\n' in text and 'address1=10.0.1.1/24,10.0.1.254\n' in text
    assert '[ipv6]\nmethod=disabled\n' in text and 'autoconnect-priority=100\n' in text
    assert 'uuid=6b766d2d-6175-746f-8000-52540a000101\n' in text  # "kvm-auto" and the MAC: the same at every boot
    assert not (guest.root / 'run/systemd').exists()


def test_ip_fallback(guest):
    guest.add_nic('ens3', '52:54:0a:00:00:01')
    guest.add_nic('ens4', '52:54:0a:00:01:01')
    done = guest.run(ROUTER, enabled='nothing')
    assert done.returncode == 0, done.stderr
    assert [line for line in guest.log('commands') if line.startswith('ip ')] == [
        'ip link set dev ens3 up', 'ip -4 address replace 10.0.0.1/24 dev ens3',
        'ip link set dev ens4 up', 'ip -4 address replace 10.0.1.1/24 dev ens4',
        'ip -4 route replace default via 10.0.1.254 dev ens4']


def test_ip_fallback_reports_a_missing_nic(guest):
    done = guest.run(HEAD + 'address 52:54:0a:00:00:09 10.0.0.9/24\n', enabled='nothing')
    assert done.returncode == 1
    assert 'no network interface has the MAC address 52:54:0a:00:00:09' in done.stderr


def test_no_identity_changes_nothing(guest):
    done = guest.run(None)
    assert done.returncode == 0
    assert 'no identity in the domain definition' in done.stderr
    assert guest.log('commands') == ['modprobe qemu_fw_cfg']
    assert guest.read('etc/hostname') == 'debian\n' and guest.read('proc/sys/net/ipv4/ip_forward') == '1\n'


def test_unknown_format_changes_nothing(guest):
    done = guest.run('kvm-auto-identity 2\nhostname gw\nforwarding on\n')
    assert done.returncode == 0 and 'nothing changed' in done.stderr
    assert guest.read('etc/hostname') == 'debian\n' and guest.log('iptables') == []


def test_without_forwarding_ip_forward_is_off(guest):
    done = guest.run(HEAD + 'accept tcp 10.0.0.0/24 10.0.1.5 - 22\n')
    assert done.returncode == 0
    assert "accept lines without 'forwarding on' are ignored" in done.stderr
    assert guest.read('proc/sys/net/ipv4/ip_forward') == '0\n' and guest.log('iptables') == []


def test_forwarding_without_iptables_stays_off(guest):
    done = guest.run(HEAD + 'forwarding on\n', iptables=False)
    assert done.returncode == 1
    assert 'is missing in this guest: forwarding stays off' in done.stderr
    assert guest.read('proc/sys/net/ipv4/ip_forward') == '0\n'


@pytest.mark.parametrize('line, problem', BAD_LINES)
def test_script_skips_the_lines_the_controller_refuses(guest, line, problem):
    done = guest.run(HEAD + line + '\n')
    assert 'line 3 ignored' in done.stderr
    # The line before it still applies; nothing of the bad line does.
    assert guest.read('etc/hostname') == 'gw\n'
    assert not (guest.root / 'run').exists() and guest.log('iptables') == []
    assert not [c for c in guest.log('commands') if c.startswith(('useradd', 'chpasswd'))]
    assert not (guest.root / 'etc/sudoers.d').exists() and not (guest.root / 'etc/ssh/sshd_config.d').exists()


@pytest.mark.parametrize('line', GOOD_TRAINEE_LINES)
def test_script_applies_the_trainee_lines_the_controller_accepts(guest, line):
    done = guest.run(HEAD + line + '\n')
    assert done.returncode == 0, done.stderr
    name = line.split(' ')[1]
    assert guest.log('commands')[-2:] == ['useradd -m %s' % name, 'chpasswd -e']
    assert guest.log('chpasswd-input') == ['%s:%s' % (name, line.split(' ')[2])]


# ---- the trainee account, with the real script in a throwaway root -----------------------------

SUDOERS = 'etc/sudoers.d/kvm-auto-trainee'
DROP_IN = 'etc/ssh/sshd_config.d/kvm-auto-trainee.conf'


def mode_of(guest, relative):
    return oct((guest.root / relative).stat().st_mode & 0o777)


@pytest.mark.parametrize('shell', SHELLS, ids=[shell[0] for shell in SHELLS])
def test_trainee_account_is_created_once_and_set_at_every_boot(tmp_path, shell):
    guest = Guest(tmp_path, shell)
    (guest.root / 'bin/bash').write_text(u'')
    (guest.root / 'bin/bash').chmod(0o755)
    for boot in (1, 2):
        done = guest.run(ENTRY)
        assert done.returncode == 0, done.stderr
        assert 'trainee trainee01' in done.stderr
    # Created at the first boot only; the password from the hash at each, on stdin.
    accounts = [c for c in guest.log('commands') if c.startswith(('useradd', 'chpasswd'))]
    assert accounts == ['useradd -m -s /bin/bash trainee01', 'chpasswd -e', 'chpasswd -e']
    assert guest.log('chpasswd-input') == ['trainee01:' + HASH] * 2
    assert HASH not in ''.join(guest.log('commands')) + done.stderr
    assert guest.read(SUDOERS) == 'trainee01 ALL=(ALL:ALL) ALL\n' and mode_of(guest, SUDOERS) == '0o440'
    assert guest.read(DROP_IN).endswith(
        '\nMatch User trainee01\n    PasswordAuthentication yes\n    KbdInteractiveAuthentication yes\n')
    assert mode_of(guest, DROP_IN) == '0o644'


@pytest.mark.parametrize('second, sudoers, drop_in', [
    (HEAD + 'trainee trainee01 %s -\n' % HASH, False, True),
    (HEAD, False, False),
    (ENTRY, True, True),
])
def test_trainee_files_follow_the_identity(guest, second, sudoers, drop_in):
    assert guest.run(ENTRY).returncode == 0
    done = guest.run(second)
    assert done.returncode == 0, done.stderr
    assert (guest.root / SUDOERS).exists() is sudoers
    assert (guest.root / DROP_IN).exists() is drop_in


def test_trainee_without_an_account_gets_no_login(guest):
    done = guest.run(ENTRY, useradd_fails=True)
    assert done.returncode == 1
    assert 'cannot create the account trainee01' in done.stderr and 'trainee none' in done.stderr
    assert 'chpasswd -e' not in guest.log('commands')
    assert not (guest.root / SUDOERS).exists() and not (guest.root / DROP_IN).exists()


def test_trainee_sshd_without_drop_ins_is_reported(guest):
    (guest.root / 'etc/ssh/sshd_config').write_text(u'PasswordAuthentication no\n')
    done = guest.run(ENTRY)
    assert done.returncode == 1
    assert 'does not include /etc/ssh/sshd_config.d: trainee01 may not log in with a password' in done.stderr


def test_trainee_without_sudo_installed_is_reported(guest):
    done = guest.run(ENTRY)
    assert 'trainee01 may use sudo, but sudo is not installed' in done.stderr
    (guest.root / 'usr/bin').mkdir(parents=True)
    (guest.root / 'usr/bin/sudo').write_text(u'')
    (guest.root / 'usr/bin/sudo').chmod(0o755)
    assert 'sudo is not installed' not in guest.run(ENTRY).stderr


# The debian-12 template reads the drop-ins first and leaves PasswordAuthentication at its default;
# cloud images also switch it off, in sshd_config or in a drop-in that sorts before ours.
# scripts/setup.sh installs openssh-server (a bootstrap package): this test fails, never skips.
@pytest.mark.parametrize('user, expected', [
    ('trainee01', 'yes'),
    ('debian', 'no'),
])
def test_sshd_takes_the_drop_in_for_the_trainee_only(guest, tmp_path, user, expected):
    assert guest.run(ENTRY).returncode == 0
    config = guest.root / 'etc/ssh'
    (config / 'sshd_config.d/50-cloud-init.conf').write_text(u'PasswordAuthentication no\n')
    subprocess.check_call(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp_path / 'host_key')])
    (config / 'sshd_config').write_text(
        u'Include %s/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nPasswordAuthentication no\n'
        u'HostKey %s\nUsePAM yes\n' % (config, tmp_path / 'host_key'))
    done = subprocess.run([SSHD_PATH, '-T', '-f', str(config / 'sshd_config'),
                           '-C', 'user=%s,host=client,addr=192.0.2.9' % user],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    settings = done.stdout.splitlines()
    assert 'passwordauthentication %s' % expected in settings
    assert 'kbdinteractiveauthentication %s' % expected in settings


# scripts/setup.sh installs shellcheck (a bootstrap package): without it this test fails, never skips.
def test_script_is_shellcheck_clean(tmp_path):
    path = tmp_path / 'kvm-auto-identity'
    path.write_text(GUEST_SCRIPT)
    done = subprocess.run(['shellcheck', '-s', 'sh', str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_script_reads_the_entry_of_the_contract():
    assert '/sys/firmware/qemu_fw_cfg/by_name/%s/raw' % IDENTITY_ENTRY in GUEST_SCRIPT
    assert 'ExecStart=%s\n' % SCRIPT_PATH in GUEST_UNIT


# ---- the image side ------------------------------------------------------------------------------

def test_image_install_stages_and_enables_the_service():
    files, operations = image_install('/stage')
    assert files == [('/stage/kvm-auto-identity', GUEST_SCRIPT, 0o644), ('/stage/' + UNIT_NAME, GUEST_UNIT, 0o644)]
    assert ('upload', '/stage/kvm-auto-identity:' + SCRIPT_PATH) in operations
    assert ('chmod', '0755:' + SCRIPT_PATH) in operations
    assert operations[-1] == ('link', '/etc/systemd/system/%s:/etc/systemd/system/multi-user.target.wants/%s' % (
        UNIT_NAME, UNIT_NAME))
    assert len(IMAGE_PIECES_DIGEST) == 64


def test_forwarding_check_names_the_option_and_the_remedy(tmp_path):
    command = forwarding_check_command()
    assert NO_IPTABLES_MESSAGE in command and FORWARDING_FIELD in command
    found = tmp_path / 'bin'
    found.mkdir()
    (found / 'iptables').write_text(u'#!/bin/sh\n')
    (found / 'iptables').chmod(0o755)
    assert subprocess.run(['/bin/sh', '-c', command], env={'PATH': str(found)}, check=False).returncode == 0


@pytest.mark.parametrize('present, rc', [(True, 0), (False, 1)])
def test_ssh_check_names_the_option_and_the_remedy(tmp_path, present, rc):
    sshd = tmp_path / 'sshd'
    if present:
        sshd.write_text(u'#!/bin/sh\n')
        sshd.chmod(0o755)
    command = ssh_check_command()
    assert SSHD_PATH in command
    done = subprocess.run(['/bin/sh', '-c', command.replace(SSHD_PATH, str(sshd))], capture_output=True, text=True,
                          check=False)
    assert done.returncode == rc
    assert done.stderr == ('' if present else '%s: %s\n' % (SSH_FIELD, NO_SSHD_MESSAGE))


# ---- the domain definition side --------------------------------------------------------------------

DOMAIN = u"<domain type='kvm'><name>g</name><os><type>hvm</type></os><devices/></domain>"


def test_the_definition_names_the_identity_file_and_holds_no_text():
    xml = set_identity(DOMAIN, '/disks/g.identity')
    root = ET.fromstring(xml)
    assert [child.tag for child in root] == ['name', 'sysinfo', 'os', 'devices']
    assert root.find('sysinfo').get('type') == 'fwcfg'
    entry = root.find('sysinfo/entry')
    assert entry.get('file') == '/disks/g.identity' and not entry.text
    assert domain_identity(root) == (None, '/disks/g.identity')
    assert domain_identity(ET.fromstring(DOMAIN)) == (None, None)


def test_an_inline_identity_of_an_older_release_is_still_read():
    inline = u"<sysinfo type='fwcfg'><entry name='%s'>%s</entry></sysinfo>" % (IDENTITY_ENTRY, fw_cfg_encode(ROUTER))
    assert domain_identity(ET.fromstring(DOMAIN.replace('<os>', inline + '<os>'))) == (ROUTER, None)


@pytest.mark.parametrize('text, encoded', [
    ('accept tcp 10.0.0.1,10.0.0.2 - - 22,80\n', 'accept tcp 10.0.0.1%2C10.0.0.2 - - 22%2C80\n'),
    ('100%,%2C%25', '100%25%2C%252C%2525'),
    ('no commas\n', 'no commas\n'),
])
def test_fw_cfg_encoding_has_no_commas_and_round_trips(text, encoded):
    assert fw_cfg_encode(text) == encoded and fw_cfg_decode(encoded) == text


def test_the_identity_file_is_0600_encoded_and_replaced_whole(tmp_path):
    path = identity_file_path(str(tmp_path), 'gw_cr1_1')
    assert path == str(tmp_path / 'gw_cr1_1.identity')
    assert read_identity_file(path) is None
    write_identity_file(path, ROUTER)
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)
    with open(path) as handle:
        assert handle.read() == fw_cfg_encode(ROUTER)
    assert read_identity_file(path) == ROUTER
    write_identity_file(path, HEAD)
    assert read_identity_file(path) == HEAD
    assert sorted(os.listdir(str(tmp_path))) == ['gw_cr1_1.identity']


def test_set_identity_replaces_ours_and_keeps_other_entries():
    other = u"<sysinfo type='fwcfg'><entry name='opt/com.example/x'>x</entry></sysinfo>"
    xml = set_identity(set_identity(DOMAIN.replace('<os>', other + '<os>'), '/a'), '/b')
    root = ET.fromstring(xml)
    assert [e.get('name') for e in root.findall('sysinfo/entry')] == ['opt/com.example/x', IDENTITY_ENTRY]
    assert domain_identity(root) == (None, '/b')


# ---- kvm_auto_vm compares the identity only when given ---------------------------------------------

@pytest.mark.parametrize('wanted, defined, in_file, expected', [
    (None, ROUTER, True, []),
    (ROUTER, ROUTER, True, []),
    (ROUTER, None, False, ['identity']),
    (HEAD, ROUTER, True, ['identity']),
    # The same text still inline in the definition: moved to the file.
    (ROUTER, ROUTER, False, ['identity']),
])
def test_identity_differences(wanted, defined, in_file, expected):
    graphics = {'type': 'vnc', 'port': None, 'listen': '127.0.0.1'}
    desired = {'vcpus': None, 'memory': None, 'interfaces': None, 'graphics': None, 'disk': None,
               'autostart': None, 'identity': wanted}
    current = {'vcpus': 1, 'memory': 1024, 'interfaces': [], 'graphics': graphics, 'disks': [], 'autostart': False,
               'identity': defined, 'identity_file': '/d/g.identity' if in_file else None, 'state': 'running', 'uuid': 'u'}
    fields = differences(desired, current)
    assert fields == expected
    assert all(f in DEFINITION_FIELDS for f in fields)
    actions = plan_actions('running', current, fields, False, True, False)
    assert actions == (['redefine'] if expected else [])
    assert restart_required(actions, current) is bool(expected)
    assert current_view(current)['identity'] == defined
    assert desired_view(dict(desired, identity=wanted or defined, vcpus=1, memory=1024, interfaces=[],
                             graphics=graphics, autostart=False), current, 'running')['identity'] == (wanted or defined)


# ---- kvm_auto_vm against libvirt's test driver: the identity is defined, kept, compared, changed ----

TEST_URI = 'test:///default'


def run_vm(args):
    """Run kvm_auto_vm on test:///default; return (result, warnings)."""
    stdout = io.StringIO()
    warnings = []
    with patch_module_args(dict(args, uri=TEST_URI)):
        module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
        module.params['virt_type'] = 'test'  # the only domain type of the test driver
        module.warn = warnings.append
        with contextlib.redirect_stdout(stdout):
            with pytest.raises(SystemExit):
                VmRun(module).run()
    return json.loads(stdout.getvalue()), warnings


@pytest.fixture
def test_driver(tmp_path):
    handle = libvirt.open(TEST_URI)  # the test driver keeps its domains while a connection is open
    base = tmp_path / 'base.qcow2'
    subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', str(base), '64M'])
    (tmp_path / 'disks').mkdir()
    yield handle, {'name': 'gw_cr1_1', 'image': str(base), 'disk_dir': str(tmp_path / 'disks'), 'state': 'present'}
    for dom in handle.listAllDomains():
        if dom.name() != 'test':
            if dom.isActive():
                dom.destroy()
            dom.undefine()
    handle.close()


def defined_identity(handle):
    xml = handle.lookupByName('gw_cr1_1').XMLDesc(0)
    inline, path = domain_identity(ET.fromstring(xml))
    assert inline is None
    return read_identity_file(path)


def test_vm_identity_is_defined_kept_and_changed(test_driver):
    handle, args = test_driver
    result, warnings = run_vm(dict(args, identity=ROUTER))
    assert result['changed'] is True and 'failed' not in result, result.get('msg')
    assert defined_identity(handle) == ROUTER
    assert result['diff']['after']['identity'] == ROUTER

    again, warnings = run_vm(dict(args, identity=ROUTER))
    assert again['changed'] is False
    # Left out, it is neither compared nor dropped by a change of another setting.
    other, warnings = run_vm(dict(args, memory=2048))
    assert other['changed'] is True and defined_identity(handle) == ROUTER

    changed, warnings = run_vm(dict(args, identity=HEAD, state='running'))
    assert changed['changed'] is True and changed['diff']['before']['identity'] == ROUTER
    assert defined_identity(handle) == HEAD
    restarted, warnings = run_vm(dict(args, identity=ROUTER, state='running'))
    assert restarted['restart_required'] is True
    assert any('the change of identity applies at the next boot' in w for w in warnings)


def test_vm_refuses_a_bad_identity(test_driver):
    handle, args = test_driver
    result, warnings = run_vm(dict(args, identity=HEAD + 'gateway 10.0.0.256\n'))
    assert result['failed'] is True
    assert result['msg'] == "guest gw_cr1_1: identity: line 3 'gateway 10.0.0.256': expected gateway IPV4"
    assert [d.name() for d in handle.listAllDomains()] == ['test']


# ---- kvm_auto_image: every plan installs the service; require_forwarding and require_ssh add checks ---

def test_every_plan_installs_the_identity_service_first():
    files, operations = image_install('/stage')
    result = plan_build([], '/stage', hostname='desktop')
    assert result['lines'][:len(operations) + 1] == ['hostname desktop'] + ['%s %s' % op for op in operations]
    assert result['files'] == files and result['scripts'] == []


def test_require_forwarding_checks_after_every_task_in_the_same_script():
    ops = normalize_tasks([{'add_account': [{'account': 'trainee', 'passwd': 'pw'}]}])
    result = plan_build(ops, '/stage', require_forwarding=True)
    assert result['scripts'] == [('/stage/steps-0.sh', ['tasks[0].add_account[0]', FORWARDING_FIELD,
                                                        'tasks[0].add_account[0].passwd'])]
    script = [text for path, text, mode in result['files'] if path == '/stage/steps-0.sh'][0]
    assert forwarding_check_command() + ' || exit 1' in script
    output = ('kvm-auto-step: tasks[0].add_account[0]\nkvm-auto-step: %s\n%s: %s\n'
              'virt-builder: error: /stage/steps-0.sh: command exited with an error\n') % (
        FORWARDING_FIELD, FORWARDING_FIELD, NO_IPTABLES_MESSAGE)
    assert failed_field(result, output) == FORWARDING_FIELD
    assert FORWARDING_FIELD not in str(plan_build(ops, '/stage')['scripts'])


def test_require_ssh_checks_after_every_task_and_the_forwarding_check():
    ops = normalize_tasks([{'install_package': [{'name': 'openssh-server'}]}])
    result = plan_build(ops, '/stage', require_forwarding=True, require_ssh=True)
    assert result['scripts'] == [('/stage/steps-0.sh', [FORWARDING_FIELD, SSH_FIELD])]
    assert result['lines'].index('run /stage/steps-0.sh') > result['lines'].index('install openssh-server')
    script = [text for path, text, mode in result['files'] if path == '/stage/steps-0.sh'][0]
    assert script.endswith(ssh_check_command() + ' || exit 1\n')
    output = 'kvm-auto-step: %s\n%s: %s\nvirt-builder: error: /stage/steps-0.sh: command exited with an error\n' % (
        SSH_FIELD, SSH_FIELD, NO_SSHD_MESSAGE)
    assert failed_field(result, output) == SSH_FIELD
    assert SSH_FIELD not in str(plan_build(ops, '/stage', require_forwarding=True)['scripts'])


def test_the_image_key_holds_the_service_version_and_require_forwarding():
    template = {'name': 'debian-12', 'revision': '2', 'checksum': 'sha512:00'}

    def summary(require_forwarding, require_ssh=False):
        return summarize('debian-12', 'x86_64', template, None, 'qcow2', None, False, [], {},
                         require_forwarding=require_forwarding, require_ssh=require_ssh)

    assert summary(False)['guest_identity'] == 'sha256:' + IMAGE_PIECES_DIGEST
    assert len({image_key(summary(f, s), {}) for f in (False, True) for s in (False, True)}) == 4
    newer = dict(summary(False), guest_identity='sha256:' + '0' * 64)
    assert image_key(newer, {}) != image_key(summary(False), {})


def test_a_refused_trainee_line_is_quoted_without_its_hash():
    from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import IdentityError, parse_identity
    secret = '$6$salt$' + 'x' * 86
    text = 'kvm-auto-identity 1\nhostname pc\ntrainee Bad-Name %s sudo\n' % secret
    with pytest.raises(IdentityError) as info:
        parse_identity(text)
    assert 'trainee Bad-Name' in str(info.value) and secret not in str(info.value)


@pytest.mark.parametrize('lines, problem', [
    ('address 52:54:00:00:00:01 10.0.2.15/24\nreply-via 52:54:00:00:00:01 10.0.2.2\n', None),
    ('reply-via 52:54:00:00:00:01 10.0.2.2\n', 'needs an address line for 52:54:00:00:00:01'),
    ('address 52:54:00:00:00:01 10.0.2.15/24\nreply-via 52:54:00:00:00:01 10.0.3.2\n', 'in the network of 10.0.3.2'),
    ('address 52:54:00:00:00:01 10.0.2.15/24\nreply-via 52:54:00:00:00:01 10.0.2\n', 'expected reply-via MAC IPV4'),
    ('address 52:54:00:00:00:01 10.0.2.15/24\nreply-via 52:54:00:00:00:01 10.0.2.2\n'
     'reply-via 52:54:00:00:00:01 10.0.2.3\n', 'a second reply-via line'),
])
def test_reply_via_names_a_nic_and_a_peer_on_its_network(lines, problem):
    from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import IdentityError, parse_identity
    text = 'kvm-auto-identity 1\nhostname pc\n' + lines
    if problem is None:
        assert parse_identity(text)['reply_via'] == {'mac': '52:54:00:00:00:01', 'gateway': '10.0.2.2'}
        return
    with pytest.raises(IdentityError, match=re.escape(problem)):
        parse_identity(text)
