# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Guest identity: the text a domain carries in fw_cfg and the guest-side service that applies it.

Every guest of a range boots from a shared image; what makes it itself (host name, static
addresses, default route, forwarding and its iptables rules, the trainee account of an entry
point) is the identity text that
kvm_auto_vm puts in the domain definition as the QEMU fw_cfg entry IDENTITY_ENTRY.  At every
boot, before the network is configured, ``kvm-auto-identity.service`` in the guest reads it from
sysfs and applies it, so no guest disk is ever opened on the host.

The format (version 1), lines of single-space-separated fields::

    kvm-auto-identity 1
    hostname NAME
    address MAC IPV4/PREFIX                 (0..n, one per MAC)
    gateway IPV4                            (0..1)
    forwarding on                           (0..1)
    accept tcp SOURCES DESTINATIONS SPORTS DPORTS   (0..n, only with forwarding on)
    trainee NAME HASH ADMIN                 (0..1)
    reply-via MAC IPV4                      (0..1, MAC one of the address lines)

SOURCES/DESTINATIONS are comma lists of IPv4 addresses or CIDRs; SPORTS/DPORTS a port, a range
``FIRST:LAST``, a comma list of them (at most 15 ports, a range counting as two), or ``-`` for any.
NAME is an account name as _cyris_schema's rule says (not root), HASH its password as a SHA-512
crypt hash (never the password itself), ADMIN ``sudo`` (it may use sudo) or ``-``.
``reply-via``: what arrives on that NIC is answered back through IPV4 on it, whatever the source
(policy routing on the NIC's address): the entry point's access link, whose peers (any trainee's
address) are not on the NIC's network and whose NIC is not the default route.
``parse_identity`` and the guest script apply the same rules; the controller refuses what the
guest would skip.

kvm_auto_image bakes GUEST_SCRIPT and GUEST_UNIT into every image (``image_install``), and
IMAGE_PIECES_DIGEST enters the image key so a new script rebuilds the images.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import shlex

from ansible_collections.cyris.kvm_auto.plugins.module_utils._cyris_schema import ACCOUNT_RE, ACCOUNT_RULE, TEMPLATE_ROOT
from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity_script import (
    GUEST_SCRIPT, GUEST_UNIT, SCRIPT_PATH, UNIT_NAME)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import MASK

IDENTITY_ENTRY = 'opt/org.cyris.kvm_auto/identity'
FORMAT_LINE = 'kvm-auto-identity 1'
UNIT_PATH = '/etc/systemd/system/' + UNIT_NAME
MAX_MULTIPORT = 15

# The kvm_auto_image option whose check fails when the image cannot forward.
FORWARDING_FIELD = 'require_forwarding'
NO_IPTABLES_MESSAGE = ('guests of this image forward traffic between networks, but the image has no iptables: '
                       'add an install_package task for iptables')

# The kvm_auto_image option whose check fails when the image has no SSH server.
SSH_FIELD = 'require_ssh'
SSHD_PATH = '/usr/sbin/sshd'
NO_SSHD_MESSAGE = ('guests of this image are entry points that trainees reach over SSH, but the image has no SSH server: '
                   'add an install_package task for openssh-server')

IMAGE_PIECES_DIGEST = hashlib.sha256((GUEST_SCRIPT + u'\0' + GUEST_UNIT).encode('utf-8')).hexdigest()

_HOST_LABEL_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
_MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_OCTET_RE = re.compile(r'^(0|[1-9][0-9]{0,2})$')
_PREFIX_RE = re.compile(r'^(0|[1-9][0-9]?)$')
_PORT_RE = re.compile(r'^[1-9][0-9]{0,4}$')
# glibc's SHA-512 crypt: rounds from 1000 (shorter values are refused, not clamped), salt 1-16, hash 86.
_SHA512_CRYPT_RE = re.compile(r'^\$6\$(rounds=[1-9][0-9]{3,8}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$')
_ADMIN_FIELDS = {'sudo': True, '-': False}


class IdentityError(ValueError):
    """An identity the guest could not apply as written; the message names the line."""


def is_hostname(text):
    return 0 < len(text) <= 253 and all(_HOST_LABEL_RE.match(label) for label in text.split('.'))


def is_ipv4(text):
    octets = text.split('.')
    return len(octets) == 4 and all(_OCTET_RE.match(o) and int(o) <= 255 for o in octets)


def _is_prefixed(text, minimum):
    address, slash, prefix = text.partition('/')
    return bool(slash) and is_ipv4(address) and bool(_PREFIX_RE.match(prefix)) and minimum <= int(prefix) <= 32


def is_address(text):
    """An IPv4 address with its prefix length (10.1.2.3/24)."""
    return _is_prefixed(text, 1)


def is_cidr_list(text):
    """A comma list of IPv4 addresses or networks (10.1.2.3,10.1.3.0/24)."""
    items = text.split(',')
    return all(is_ipv4(i) or _is_prefixed(i, 0) for i in items)


def is_ports(text):
    """``-``, or a comma list of ports and ``FIRST:LAST`` ranges (a range counts twice in multiport's MAX_MULTIPORT)."""
    if text == '-':
        return True
    count = 0
    for item in text.split(','):
        ends = item.split(':')
        if len(ends) > 2 or not all(_PORT_RE.match(p) and int(p) <= 65535 for p in ends) or int(ends[0]) > int(ends[-1]):
            return False
        count += len(ends)
    return count <= MAX_MULTIPORT


def is_sha512_crypt(text):
    """A SHA-512 crypt hash: ``$6$[rounds=N$]SALT$HASH``."""
    return bool(_SHA512_CRYPT_RE.match(text))


def parse_identity(text):
    """The identity ``text`` as data: {hostname, addresses: [{mac, address}], gateway, forwarding,
    accepts: [{sources, destinations, source_ports, destination_ports}], trainee: {name,
    password_hash, sudo} or None}.

    Raises IdentityError for the first line the guest would skip or refuse, so the controller
    never hands a guest an identity it applies only in part.
    """
    lines = (text or '').split('\n')
    if lines[0] != FORMAT_LINE:
        raise IdentityError('line 1 must be %r, got %r' % (FORMAT_LINE, lines[0]))
    identity = {'hostname': None, 'addresses': [], 'gateway': None, 'forwarding': False, 'accepts': [],
                'trainee': None, 'reply_via': None}
    for number, line in enumerate(lines[1:], 2):
        if not line:
            continue
        fields = line.split(' ')
        problem = 'fields must be separated by single spaces' if '' in fields else _line_problem(fields, identity)
        if problem:
            # A trainee line holds a password hash: the message shows it masked.
            raise IdentityError('line %d %r: %s' % (number, mask_identity(line), problem))
    if identity['hostname'] is None:
        raise IdentityError('no hostname line')
    if identity['accepts'] and not identity['forwarding']:
        raise IdentityError('accept lines need a forwarding on line')
    reply = identity['reply_via']
    if reply:
        nic = next((a for a in identity['addresses'] if a['mac'] == reply['mac']), None)
        if nic is None or not _same_network(nic['address'], reply['gateway']):
            raise IdentityError('reply-via %s %s: needs an address line for %s in the network of %s' % (
                reply['mac'], reply['gateway'], reply['mac'], reply['gateway']))
    return identity


def _same_network(address, other):
    """ADDRESS/PREFIX and IPV4 on one network (as the guest script's same_network)."""
    ip, prefix = address.split('/')
    mask = (0xffffffff << (32 - int(prefix))) & 0xffffffff

    def number(text):
        a, b, c, d = (int(o) for o in text.split('.'))
        return (a << 24) | (b << 16) | (c << 8) | d
    return number(ip) & mask == number(other) & mask


def _line_problem(fields, identity):
    kind, args = fields[0], fields[1:]
    if kind == 'hostname':
        if len(args) != 1 or not is_hostname(args[0]):
            return 'expected hostname NAME (labels of letters, digits and inner dashes, at most 253 characters)'
        if identity['hostname'] is not None:
            return 'a second hostname line'
        identity['hostname'] = args[0]
    elif kind == 'reply-via':
        if len(args) != 2 or not _MAC_RE.match(args[0]) or not is_ipv4(args[1]):
            return 'expected reply-via MAC IPV4 (MAC in lower case)'
        if identity['reply_via'] is not None:
            return 'a second reply-via line'
        identity['reply_via'] = {'mac': args[0], 'gateway': args[1]}
    elif kind == 'address':
        if len(args) != 2 or not _MAC_RE.match(args[0]) or not is_address(args[1]):
            return 'expected address MAC IPV4/PREFIX (MAC in lower case, prefix 1-32)'
        if args[0] in [a['mac'] for a in identity['addresses']]:
            return 'a second address for %s' % args[0]
        identity['addresses'].append({'mac': args[0], 'address': args[1]})
    elif kind == 'gateway':
        if len(args) != 1 or not is_ipv4(args[0]):
            return 'expected gateway IPV4'
        if identity['gateway'] is not None:
            return 'a second gateway line'
        identity['gateway'] = args[0]
    elif kind == 'forwarding':
        if args != ['on']:
            return 'expected forwarding on'
        identity['forwarding'] = True
    elif kind == 'accept':
        if len(args) != 5 or args[0] != 'tcp' or not (is_cidr_list(args[1]) and is_cidr_list(args[2])) \
                or not (is_ports(args[3]) and is_ports(args[4])):
            return 'expected accept tcp SOURCES DESTINATIONS SOURCE-PORTS DESTINATION-PORTS'
        identity['accepts'].append({'sources': args[1], 'destinations': args[2], 'source_ports': args[3],
                                    'destination_ports': args[4]})
    elif kind == 'trainee':
        if len(args) != 3 or not ACCOUNT_RE.match(args[0]) or args[0] == TEMPLATE_ROOT \
                or not is_sha512_crypt(args[1]) or args[2] not in _ADMIN_FIELDS:
            return ('expected trainee NAME HASH ADMIN (NAME: %s, not %s; HASH: a SHA-512 crypt hash '
                    '$6$[rounds=N$]SALT$HASH; ADMIN: sudo or -)' % (ACCOUNT_RULE, TEMPLATE_ROOT))
        if identity['trainee'] is not None:
            return 'a second trainee line'
        identity['trainee'] = {'name': args[0], 'password_hash': args[1], 'sudo': _ADMIN_FIELDS[args[2]]}
    else:
        return 'unknown line'
    return None


def fw_cfg_encode(text):
    """The identity as the domain definition carries it: ``%`` and ``,`` as ``%25`` and ``%2C``.

    libvirt 9.0 hands the entry to QEMU as ``-fw_cfg name=...,string=TEXT`` without doubling the
    commas of TEXT, so QEMU would take what follows a comma for another option and refuse to start
    (checked on this project's host).  Line breaks pass unchanged.  The guest script decodes.
    """
    return text.replace('%', '%25').replace(',', '%2C')


def fw_cfg_decode(text):
    """The inverse of ``fw_cfg_encode`` (each ``%`` it wrote starts %25 or %2C, so the order is safe)."""
    return text.replace('%2C', ',').replace('%25', '%')


def format_identity(hostname, addresses=(), gateway=None, forwarding=False, accepts=(), trainee=None, reply_via=None):
    """The identity text of a guest; the inverse of ``parse_identity`` (which checks the result).

    ``addresses``: [{mac, address}] (address as IPV4/PREFIX); ``accepts``: [{sources, destinations,
    source_ports, destination_ports}], each a string as in the format or a list of its items
    (ports may be ints; None or an empty list means any port); ``trainee``: {name,
    password_hash, sudo} or None; ``reply_via``: {mac, gateway} or None.
    """
    lines = [FORMAT_LINE, 'hostname %s' % hostname]
    lines += ['address %s %s' % (a['mac'].lower(), a['address']) for a in addresses]
    if gateway:
        lines.append('gateway %s' % gateway)
    if forwarding:
        lines.append('forwarding on')
    for rule in accepts:
        lines.append('accept tcp %s %s %s %s' % (
            _joined(rule['sources']), _joined(rule['destinations']),
            _joined(rule.get('source_ports')) or '-', _joined(rule.get('destination_ports')) or '-'))
    if reply_via:
        lines.append('reply-via %s %s' % (reply_via['mac'].lower(), reply_via['gateway']))
    if trainee:
        lines.append(_trainee_line(trainee))
    text = '\n'.join(lines) + '\n'
    parse_identity(text)
    return text


def _trainee_line(trainee):
    return 'trainee %s %s %s' % (trainee['name'], trainee['password_hash'], 'sudo' if trainee['sudo'] else '-')


def _is_trainee_line(line):
    return line.split(' ', 1)[0] == 'trainee'


def with_trainee(text, trainee):
    """The identity ``text`` with the line of ``trainee`` ({name, password_hash, sudo}) in place
    of any trainee line it has (without one when ``trainee`` is None); checked as parse_identity does.
    """
    lines = [line for line in (text or '').split('\n') if not _is_trainee_line(line)]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    if trainee:
        lines.append(_trainee_line(trainee))
    result = '\n'.join(lines) + '\n'
    parse_identity(result)
    return result


def mask_identity(text):
    """The identity ``text`` (None stays None) with every field of a trainee line but its name and
    its ADMIN field replaced by ``MASK``, so a diff or a returned value never shows the hash, even
    of a line parse_identity would refuse.
    """
    if text is None:
        return None
    masked = []
    for line in text.split('\n'):
        if _is_trainee_line(line):
            fields = line.split(' ')
            last = len(fields) - 1 if len(fields) > 2 and fields[-1] in _ADMIN_FIELDS else len(fields)
            line = ' '.join(field if number < 2 or number == last or not field else MASK
                            for number, field in enumerate(fields))
        masked.append(line)
    return '\n'.join(masked)


def _joined(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return ','.join(str(item) for item in value)


def image_install(staging_dir):
    """What installs and enables the identity service in an image, in the same virt-builder run.

    Returns (files, operations): [(path, text, mode)] to write into ``staging_dir`` and
    [(operation, argument)] customise operations (no command runs in the appliance for it).
    """
    script = os.path.join(staging_dir, 'kvm-auto-identity')
    unit = os.path.join(staging_dir, UNIT_NAME)
    files = [(script, GUEST_SCRIPT, 0o644), (unit, GUEST_UNIT, 0o644)]
    wants = '/etc/systemd/system/multi-user.target.wants'
    operations = [
        ('mkdir', os.path.dirname(SCRIPT_PATH)),
        ('upload', '%s:%s' % (script, SCRIPT_PATH)),
        ('chmod', '0755:' + SCRIPT_PATH),
        ('upload', '%s:%s' % (unit, UNIT_PATH)),
        ('chmod', '0644:' + UNIT_PATH),
        ('mkdir', wants),
        ('link', '%s:%s/%s' % (UNIT_PATH, wants, UNIT_NAME)),
    ]
    return files, operations


def forwarding_check_command():
    """The build step (run in the image after every task) that fails when iptables is missing."""
    return ('command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ] '
            '|| {{ echo {msg} >&2; exit 1; }}'.format(msg=shlex.quote('%s: %s' % (FORWARDING_FIELD, NO_IPTABLES_MESSAGE))))


def ssh_check_command():
    """The build step (run in the image after every task) that fails when the SSH server is missing."""
    return '[ -x {path} ] || {{ echo {msg} >&2; exit 1; }}'.format(
        path=SSHD_PATH, msg=shlex.quote('%s: %s' % (SSH_FIELD, NO_SSHD_MESSAGE)))
