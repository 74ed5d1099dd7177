# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""How an image reaches a KVM host: rsync over SSH, compressed and sparse, into the image directory.

* ``remote_shell`` / ``rsync_argv``: the exact argv of one transfer, with the SSH options Ansible
  uses for the receiving host;
* ``transfer_rounds``: the plan's copies that are not there yet, in rounds (see _fanout), each send
  with its sender, argv, temporary and final names;
* ``place_image``: on the receiver, the received file's sha256 checked, then renamed to its final
  name (kvm_auto_image_place);
* ``bytes_sent``: what one transfer put on the wire, from ``rsync --stats``.

rsync writes under a temporary name of its own and renames it to ``.NAME.part`` when complete;
only a file whose checksum is the built image's gets the final name, so a broken or corrupted
transfer never leaves a file that a later run would take for the image.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import posixpath
import re
import shlex

from ansible_collections.cyris.kvm_auto.plugins.module_utils._fanout import SOURCE, rounds
from ansible_collections.cyris.kvm_auto.plugins.module_utils._files import fsync_dir

# A KVM host's variables that shape how other machines reach it with rsync, and its own settings:
# STORAGE_HOST_VAR names the storage of its image directory (hosts naming the same one share it),
# KEY_HOST_VAR the SSH key it uses, as a sender, to reach the other hosts.
SSH_TRANSFER_VARS = ('ansible_host', 'ansible_port', 'ansible_user', 'ansible_ssh_private_key_file',
                     'ansible_ssh_common_args', 'ansible_ssh_extra_args')
STORAGE_HOST_VAR = 'kvm_auto_range_image_storage'
KEY_HOST_VAR = 'kvm_auto_range_copy_key_file'
TRANSFER_HOST_VARS = SSH_TRANSFER_VARS + (STORAGE_HOST_VAR, KEY_HOST_VAR)

# zstd at level 1 compresses a disk image at several hundred MB/s to about a third of its size.
COMPRESS_ARGS = ('--compress', '--compress-choice=zstd', '--compress-level=1')
CHUNK = 1024 * 1024


def remote_shell(receiver_vars, key_file=None):
    """The ssh argv by which rsync reaches a receiving host, from its Ansible connection variables.

    ``key_file``: the identity to offer (on the controller, the host's ansible_ssh_private_key_file;
    on a sending host, that host's KEY_HOST_VAR), else ssh's own defaults and agent. The options of
    ansible_ssh_common_args and ansible_ssh_extra_args (host key rules, jump hosts...) apply as for
    Ansible. The transfer has a connection of its own without SSH compression: rsync compresses,
    and for ssh the first value of an option wins, over a ControlMaster of the host's arguments.
    """
    argv = ['ssh', '-o', 'BatchMode=yes', '-o', 'Compression=no', '-o', 'ControlMaster=no', '-o', 'ControlPath=none']
    if receiver_vars.get('ansible_port'):
        argv += ['-p', '%s' % receiver_vars['ansible_port']]
    if receiver_vars.get('ansible_user'):
        argv += ['-l', '%s' % receiver_vars['ansible_user']]
    if key_file:
        argv += ['-i', '%s' % key_file]
    for var in ('ansible_ssh_common_args', 'ansible_ssh_extra_args'):
        argv += shlex.split('%s' % (receiver_vars.get(var) or ''))
    return argv


def rsync_argv(src, dest, address=None, shell=None, compress=True):
    """The rsync argv that writes ``src`` to ``dest`` (on ``address`` through ``shell``, or on this machine).

    Sparse (holes stay holes on the receiver), mode 0600, with statistics for ``bytes_sent``.
    """
    argv = ['rsync', '--sparse', '--perms', '--chmod=F600', '--stats']
    if address is None:
        return argv + ['--', src, dest]
    if compress:
        argv += list(COMPRESS_ARGS)
    # rsync splits --rsh itself, honouring quotes as a POSIX shell does.
    argv.append('--rsh=%s' % ' '.join(shlex.quote(a) for a in shell))
    host = '[%s]' % address if ':' in address else address
    return argv + ['--', src, '%s:%s' % (host, dest)]


def part_name(dest):
    """Where a transfer writes before its checksum is verified: hidden, beside ``dest``."""
    directory, name = posixpath.split(dest)
    return posixpath.join(directory, '.%s.part' % name)


def bytes_sent(stats):
    """The ``Total bytes sent`` of ``rsync --stats`` output (digits only: the separators follow the locale), or None."""
    match = re.search(r'^Total bytes sent:\s*([0-9][0-9,.\']*)', stats or '', re.M)
    return int(re.sub(r'[^0-9]', '', match.group(1))) if match else None


def node_of(host, host_vars):
    """The fan-out node of a host: its image storage when it names one (hosts sharing it are one node)."""
    storage = (host_vars.get(host) or {}).get(STORAGE_HOST_VAR)
    return 'storage %s' % storage if storage else 'host %s' % host


def transfer_rounds(copies, hosts, present, host_vars, fanout=False, compress=True):
    """The copies still to make, in rounds: [{label, sends}].

    ``copies``: deploy_steps' ``copies`` (each with image, inventory_host, src, dest and checksum);
    ``hosts``: the plan's layout; ``present``: (image, inventory_host) pairs whose file is there;
    ``host_vars``: inventory host -> its TRANSFER_HOST_VARS. A copy without ``dest`` (an image a
    check-mode run would build) is not planned. Each send: image, inventory_host (the receiver),
    sender (the inventory host that runs rsync, ``localhost`` for the controller), argv, part,
    dest, checksum, and ``shared_with``: the other hosts that see the file through shared storage.
    """
    by_host = dict((h['inventory_host'], h) for h in hosts)
    planned = [c for c in copies if c.get('dest')]
    members = {}
    for copy in planned:
        members.setdefault((copy['image'], node_of(copy['inventory_host'], host_vars)), []).append(copy)
    holders = {}
    needs = []
    # A host that is the controller copies from the build directory on its own disk, beside the
    # rounds (its image directory is on another file system, or it would take a hard link).
    local = []
    for (image, node), node_copies in members.items():
        if any((image, c['inventory_host']) in present for c in node_copies):
            holders.setdefault(image, []).append(node)
        elif by_host[node_copies[0]['inventory_host']]['local']:
            local.append((image, SOURCE, node))
        else:
            needs.append((image, node))
    schedule = rounds(needs, holders, fanout)
    if local:
        schedule = [local + (schedule[0] if schedule else [])] + schedule[1:]
    found = []
    for number, this_round in enumerate(schedule, 1):
        sends = []
        for image, sender, node in this_round:
            copy = members[(image, node)][0]
            sends.append(_send(copy, members[(image, sender)][0] if sender != SOURCE else None, by_host, host_vars,
                               compress, [c['inventory_host'] for c in members[(image, node)][1:]]))
        found.append({'label': 'round %d: %s' % (number, ', '.join(
            '%s %s -> %s' % (s['image'], s['sender'], s['inventory_host']) for s in sends)), 'sends': sends})
    return found


def _send(copy, serving, by_host, host_vars, compress, shared_with):
    receiver = copy['inventory_host']
    own = host_vars.get(receiver) or {}
    part = part_name(copy['dest'])
    if serving is None:
        sender, src, key = 'localhost', copy['src'], own.get('ansible_ssh_private_key_file')
    else:
        sender, src = serving['inventory_host'], serving['dest']
        key = (host_vars.get(sender) or {}).get(KEY_HOST_VAR)
    if by_host[receiver]['local']:
        argv = rsync_argv(src, part)
    else:
        argv = rsync_argv(src, part, '%s' % (own.get('ansible_host') or receiver), remote_shell(own, key), compress)
    return {'image': copy['image'], 'inventory_host': receiver, 'sender': sender, 'argv': argv, 'part': part,
            'dest': copy['dest'], 'checksum': copy['checksum'], 'shared_with': shared_with}


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return 'sha256:' + digest.hexdigest()


def place_image(part, dest, checksum, check_mode=False):
    """Give a received image its final name once its checksum is the built image's.

    Returns (changed, error). A ``dest`` already there is the image (its name holds the checksum):
    nothing changes, and a leftover ``part`` is removed. A ``part`` with another checksum is removed.
    """
    if os.path.exists(dest):
        if os.path.lexists(part) and not check_mode:
            os.unlink(part)
        return False, None
    if check_mode:
        return True, None
    if not os.path.isfile(part):
        return False, 'nothing was received at %s' % part
    found = sha256_of(part)
    if found != checksum:
        os.unlink(part)
        return False, '%s arrived with checksum %s, not the built image\'s %s: removed' % (dest, found, checksum)
    os.chmod(part, 0o600)
    os.rename(part, dest)
    fsync_dir(os.path.dirname(dest))
    return True, None
