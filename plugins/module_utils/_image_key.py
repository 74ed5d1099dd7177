# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""What an image is built from: a secret-free summary, salted password hashes, one key.

The key is the SHA-256 of everything that shapes the image: the template (name,
architecture, index revision and checksum), size, format, host name, every task,
the content of every file or directory copied in and of every firewall rules
file, and each password as a salted PBKDF2 hash.  The salt lives in the state
file beside the image, so a rerun can recompute the key; passwords are never
stored in clear or as unsalted hashes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import copy
import hashlib
import json
import os
import stat

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import IMAGE_PIECES_DIGEST
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_tasks import MASK
from ansible_collections.cyris.kvm_auto.plugins.module_utils._malware import PIECES_DIGEST as MALWARE_DIGEST
from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import format_size

# Bump when the translation of tasks into operations changes what an image holds,
# so images built by an older recipe are rebuilt.
RECIPE_VERSION = 1
PBKDF2_ITERATIONS = 100000
CHANGED_SECRET = MASK + ' (changed)'
_CHUNK = 4 * 1024 * 1024


def new_salt():
    """A fresh random salt, hex encoded."""
    return binascii.hexlify(os.urandom(16)).decode('ascii')


def secret_hash(secret, salt):
    """Salted, slow hash of a password (PBKDF2-HMAC-SHA256), hex encoded."""
    raw = hashlib.pbkdf2_hmac('sha256', secret.encode('utf-8'), binascii.unhexlify(salt), PBKDF2_ITERATIONS)
    return binascii.hexlify(raw).decode('ascii')


def _hash_file(digest, path):
    with open(path, 'rb') as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)


def file_sha256(path):
    """SHA-256 of one file's bytes, hex encoded."""
    digest = hashlib.sha256()
    _hash_file(digest, path)
    return digest.hexdigest()


def content_digest(path):
    """``sha256:HEX`` over a file or a directory tree: names, types, modes and bytes.

    A directory is walked in sorted order so the digest does not depend on the
    file system's listing order.
    """
    digest = hashlib.sha256()

    def add(rel, full):
        info = os.lstat(full)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            digest.update(('L %s %s\0' % (rel, os.readlink(full))).encode('utf-8', 'surrogateescape'))
        elif stat.S_ISDIR(info.st_mode):
            digest.update(('D %s %o\0' % (rel, mode)).encode('utf-8', 'surrogateescape'))
        else:
            digest.update(('F %s %o %d\0' % (rel, mode, info.st_size)).encode('utf-8', 'surrogateescape'))
            _hash_file(digest, full)

    add('.', path)
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(dirs + files):
                full = os.path.join(root, name)
                add(os.path.relpath(full, path), full)
    return 'sha256:' + digest.hexdigest()


def input_digests(ops):
    """{path: digest} for every file or directory the operations read on the controller."""
    digests = {}
    for op in ops:
        for name in ('src', 'rule'):
            if op.get(name) and op[name] not in digests:
                digests[op[name]] = content_digest(op[name])
    return digests


def _op_summary(op, digests):
    kind = op['kind']
    if kind == 'add_account':
        params = {'account': op['account'], 'passwd': MASK, 'full_name': op['full_name']}
    elif kind == 'modify_account':
        params = {'account': op['account'], 'new_account': op['new_account'],
                  'new_passwd': MASK if op['new_passwd'] is not None else None}
    elif kind == 'install_package':
        params = {'name': ' '.join(op['packages']), 'version': op['version'], 'package_manager': op['package_manager']}
    elif kind == 'copy_content':
        params = {'src': op['src'], 'dst': op['dst'], 'content': digests.get(op['src'])}
    elif kind == 'execute_program':
        params = {'program': op['program'], 'interpreter': op['interpreter'], 'args': list(op['args'])}
    elif kind == 'emulate_malware':
        # The program's digest lives in these tasks only: images without them keep their key.
        params = {'name': op['name'], 'mode': op['mode'], 'cpu_utilization': op['cpu_utilization'], 'port': op['port'],
                  'program': MALWARE_DIGEST}
    else:
        params = {'rule': op['rule'], 'content': digests.get(op['rule'])}
    return {'task': op['field'], kind: params}


def summarize(image_name, arch, template, size_bytes, image_format, hostname, root_password_set, ops, digests,
              require_forwarding=False, require_ssh=False):
    """The secret-free description of an image's inputs (stored and shown in ``diff``).

    ``guest_identity`` is the digest of the identity service baked into every image, so a new
    one rebuilds them; ``require_forwarding`` and ``require_ssh`` count because each adds a check to
    the build.
    """
    return {
        'image_name': image_name,
        'arch': arch,
        'template': {'name': template.get('name'), 'revision': template.get('revision'),
                     'checksum': template.get('checksum')},
        'disk_size': format_size(size_bytes) if size_bytes else None,
        'format': image_format,
        'hostname': hostname,
        'root_password': MASK if root_password_set else None,
        'tasks': [_op_summary(op, digests) for op in ops],
        'guest_identity': 'sha256:' + IMAGE_PIECES_DIGEST,
        'require_forwarding': bool(require_forwarding),
        'require_ssh': bool(require_ssh),
    }


def image_key(summary, secret_hashes):
    """The key of an image: SHA-256 over the summary and the salted password hashes.

    Controller paths of copied files do not count, only their name in the guest
    and their content: staging the same files elsewhere does not force a rebuild.
    """
    material = copy.deepcopy(summary)
    for task in material['tasks']:
        params = task.get('copy_content')
        if params:
            params['src'] = os.path.basename(params['src'])
        params = task.get('firewall_rules')
        if params:
            del params['rule']
    material['image_name'] = None  # the template section already names the template
    material['recipe'] = RECIPE_VERSION
    material['secrets'] = dict(secret_hashes)
    text = json.dumps(material, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def mark_changed_secrets(summary, secret_hashes, previous_hashes):
    """A copy of ``summary`` where each password whose hash differs from before reads '******** (changed)'."""
    marked = copy.deepcopy(summary)
    by_task = dict((t['task'], t) for t in marked['tasks'])
    for field, value in secret_hashes.items():
        if previous_hashes.get(field) == value:
            continue
        if field == 'root_password':
            marked['root_password'] = CHANGED_SECRET
            continue
        task_field, dummy, name = field.rpartition('.')
        task = by_task.get(task_field)
        if task is not None:
            for params in task.values():
                if isinstance(params, dict) and name in params:
                    params[name] = CHANGED_SECRET
    return marked
