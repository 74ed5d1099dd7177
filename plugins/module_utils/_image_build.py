# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""kvm_auto_image: state file, lock, atomic build and the module's run logic.

Files beside the destination PATH:

``PATH.kvm-auto.json``  state: key, salt, secret-free summary, image facts (0600)
``PATH.lock``           fcntl.flock lock; one run builds, the others wait
``.NAME.kvm-auto-tmp-*`` the image being built (same directory, so rename is atomic)

A build writes the temporary image, compacts it when virt-builder left it mostly
holes (a resized qcow2), hashes it, removes the old state, renames the image
into place and then writes the new state (temporary file + rename).
A run killed at any point leaves either no image, or an image without a state
that matches it, and both make the next run build; temporary files of killed
runs are removed by the next run that holds the lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import fcntl
import json
import os
import shutil
import struct
import tempfile
import time

from ansible_collections.cyris.kvm_auto.plugins.module_utils._files import (
    allocation, file_identity, fsync_dir, is_mostly_holes, write_private)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import (
    FORWARDING_FIELD, NO_IPTABLES_MESSAGE, NO_SSHD_MESSAGE, SSH_FIELD)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_requirements import install_hint
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_key import (
    file_sha256, image_key, input_digests, mark_changed_secrets, new_salt, secret_hash, summarize)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_tasks import (
    ImageInputError, check_hostname, check_password, failed_field, final_passwords, normalize_tasks, plan_build,
    secret_fields)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import CommandRunner
from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import format_size, parse_size
from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import (
    TemplateError, find_template, index_entry, os_type_from_osinfo, parse_index, parse_template_list, qcow2_compact_argv,
    uses_selinux, virt_builder_build_argv, virt_builder_environment, virt_builder_list_argv)

STATE_SUFFIX = '.kvm-auto.json'
LOCK_SUFFIX = '.lock'
TEMP_MARK = '.kvm-auto-tmp-'
STATE_VERSION = 1
INSTALL_HINT = 'this host: ' + install_hint('virt-builder')
# A failed check of these options says what the image lacks, not how virt-builder failed.
CHECK_MESSAGES = {FORWARDING_FIELD: NO_IPTABLES_MESSAGE, SSH_FIELD: NO_SSHD_MESSAGE}


def state_path(path):
    return path + STATE_SUFFIX


def lock_path(path):
    return path + LOCK_SUFFIX


def temp_path(path, purpose='image'):
    """A fresh dot-name next to ``path``: same file system, hidden, recognisable as ours."""
    directory, base = os.path.split(path)
    token = binascii.hexlify(os.urandom(6)).decode('ascii')
    return os.path.join(directory, '.%s%s%s-%s' % (base, TEMP_MARK, purpose, token))


def stale_temp_files(path):
    """Temporary files that runs on ``path`` left behind (killed or crashed)."""
    directory, base = os.path.split(path)
    prefix = '.%s%s' % (base, TEMP_MARK)
    try:
        names = os.listdir(directory or '.')
    except OSError:
        return []
    return sorted(os.path.join(directory, n) for n in names if n.startswith(prefix))


def read_state(path):
    """The state recorded beside image ``path``; None when missing or unreadable (-> rebuild)."""
    try:
        with open(state_path(path)) as handle:
            state = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get('version') != STATE_VERSION or not state.get('salt'):
        return None
    return state


def write_state(path, state):
    """Write the state file atomically (temporary file, fsync, rename), mode 0600."""
    write_private(state_path(path), json.dumps(state, indent=2, sort_keys=True) + '\n', temp=temp_path(path, 'state'))


def virtual_size(path, image_format):
    """Virtual disk size in bytes: the qcow2 header's size field, or a raw file's length."""
    if image_format == 'qcow2':
        with open(path, 'rb') as handle:
            header = handle.read(32)
        if len(header) == 32 and header[:4] == b'QFI\xfb':
            return struct.unpack('>Q', header[24:32])[0]
        return None
    return os.stat(path).st_size


class PathLock:
    """An fcntl.flock lock on ``PATH.lock``, waited for up to ``timeout`` seconds."""

    def __init__(self, path, timeout, shared=False):
        self.path = path
        self.timeout = timeout
        self.shared = shared
        self.fd = None

    def acquire(self):
        """Take the lock; return False when ``timeout`` passed first."""
        deadline = time.monotonic() + self.timeout
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        while True:
            try:
                fd = os.open(self.path, os.O_RDONLY if self.shared else os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                # A reader has nothing to wait for once state=absent removed the lock file.
                if self.shared and exc.errno == errno.ENOENT:
                    return True
                raise
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except (IOError, OSError) as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        os.close(fd)
                        raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.25)
            # state=absent unlinks the lock file: holding a lock on an unlinked file locks nothing.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except OSError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)
            if self.shared and not os.path.exists(self.path):
                return True

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def read_index_text(uri):
    """The text of a virt-builder index at ``uri`` (file:// or http(s)://)."""
    if uri.startswith('file://'):
        with open(uri[len('file://'):], 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    # Imported here: it pulls in TLS libraries (about 0.1 s) that local file:// repositories never need,
    # and an up-to-date rerun should stay well under a second.
    from ansible.module_utils.urls import open_url  # pylint: disable=import-outside-toplevel
    response = open_url(uri, timeout=60)
    return response.read().decode('utf-8', 'replace')


def _remove(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def _write_private(path, text, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, 'w') as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(text)


class ImageBuild:
    """One run of kvm_auto_image."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.path = os.path.abspath(self.params['path'])
        self.name = self.params['name'] or os.path.basename(self.path)
        self.subject = 'image %s' % self.name
        secrets = [self.params.get('root_password')] + [s for f, s in secret_fields(self._raw_secret_ops())]
        self.runner = CommandRunner(module, self.subject, secrets=secrets,
                                    environ=virt_builder_environment(self.params.get('virt_builder_config_dir'),
                                                                     self.params.get('environment')))
        self.result = {'changed': False, 'path': self.path, 'format': self.params['format']}

    def _raw_secret_ops(self):
        # Passwords straight from the parameters, so they are masked even when validation fails.
        ops = []
        for item in self.params.get('tasks') or []:
            for kind in ('add_account', 'modify_account'):
                values = item.get(kind) if isinstance(item, dict) else None
                for params in values if isinstance(values, list) else [values]:
                    if isinstance(params, dict):
                        ops.append({'field': kind, 'passwd': params.get('passwd'), 'new_passwd': params.get('new_passwd')})
        return ops

    def fail(self, msg, **context):
        self.runner.fail('%s: %s' % (self.subject, msg), **context)

    # state=absent ---------------------------------------------------------------------------

    def absent(self):
        path = self.path
        present = [p for p in (path, state_path(path)) if os.path.lexists(p)]
        leftovers = [p for p in [lock_path(path)] + stale_temp_files(path) if os.path.lexists(p)]
        self.result.update(changed=bool(present), rebuilt=False,
                           diff={'before': {'image': 'present' if os.path.lexists(path) else 'absent'},
                                 'after': {'image': 'absent'}})
        if self.module.check_mode or not (present or leftovers):
            return self.result
        lock = PathLock(lock_path(path), self.params['lock_timeout'])
        if not lock.acquire():
            self.fail('lock_timeout: %s is held by another run for more than %d s' % (
                lock_path(path), self.params['lock_timeout']))
        try:
            for item in [path, state_path(path)] + stale_temp_files(path):
                _remove(item)
            _remove(lock_path(path))
        finally:
            lock.release()
        return self.result

    # state=present --------------------------------------------------------------------------

    def validate(self):
        """Check every input that needs no external command; return the operations."""
        params = self.params
        if not params.get('image_name'):
            raise ImageInputError('image_name', 'required when state is present')
        directory = os.path.dirname(self.path)
        if self.params['path'].endswith('/') or os.path.isdir(self.path):
            raise ImageInputError('path', '%r is a directory; give the image file to create' % (self.params['path'],))
        if not os.path.isdir(directory):
            raise ImageInputError('path', 'the directory %r does not exist' % (directory,))
        config_dir = params.get('virt_builder_config_dir')
        if config_dir and not os.path.isdir(os.path.join(config_dir, 'virt-builder', 'repos.d')):
            raise ImageInputError('virt_builder_config_dir', '%r holds no virt-builder/repos.d directory' % (config_dir,))
        if params.get('disk_size') is not None:
            try:
                parse_size(params['disk_size'])
            except ValueError as exc:
                raise ImageInputError('disk_size', str(exc))
        if params.get('root_password') is not None:
            check_password('root_password', params['root_password'])
        check_hostname(params.get('hostname'))
        ops = normalize_tasks(params.get('tasks'))
        final_passwords(ops, params.get('root_password'))
        return ops

    def template(self):
        """The template entry from ``virt-builder --list`` plus its index revision and checksum."""
        params = self.params
        binary = self.runner.bin_path('virt-builder', INSTALL_HINT)
        dummy, out, dummy2 = self.runner.run(
            virt_builder_list_argv(binary, params['sources'], params['check_signature']), field='image_name')
        try:
            listing = parse_template_list(out)
            entry = dict(find_template(listing, params['image_name'], params['arch']))
        except TemplateError as exc:
            raise ImageInputError('image_name', str(exc))
        entry.update(revision=None, checksum=None)
        for uri in listing['sources']:
            try:
                found = index_entry(parse_index(read_index_text(uri)), entry['name'], params['arch'])
            except (IOError, OSError, ValueError) as exc:
                self.module.warn('%s: cannot read the index %s (%s)' % (self.subject, uri, exc))
                continue
            if found:
                entry.update(found)
                break
        if entry['revision'] is None:
            self.module.warn('%s: the revision of template %s is unknown, so a new revision of it will not '
                             'trigger a rebuild' % (self.subject, entry['name']))
        return entry

    def present(self):
        params = self.params
        ops = self.validate()
        template = self.template()
        if params.get('disk_size') is not None:
            size = parse_size(params['disk_size'])
            if template['size'] and size < template['size']:
                raise ImageInputError('disk_size', '%s is smaller than template %s (%s)' % (
                    params['disk_size'], template['name'], format_size(template['size'])))
        else:
            size = template['size']
        # Plan once without writing anything: translation errors (a version pin without a known
        # package manager, clashing firewall files) surface before any work, in check mode too.
        plan_build(ops, '/staging', hostname=params.get('hostname'), root_password=params.get('root_password'),
                   osinfo=template.get('osinfo'), require_forwarding=params.get('require_forwarding'),
                   require_ssh=params.get('require_ssh'))
        digests = input_digests(ops)
        summary = summarize(params['image_name'], params['arch'], template, size, params['format'],
                            params.get('hostname'), params.get('root_password') is not None, ops, digests,
                            require_forwarding=params.get('require_forwarding'), require_ssh=params.get('require_ssh'))
        osinfo = template.get('osinfo')
        self.result.update(osinfo=osinfo, os_type=os_type_from_osinfo(osinfo),
                           template={'name': template['name'], 'revision': template['revision'],
                                     'checksum': template['checksum']})

        lock = None
        if not self.module.check_mode:
            lock = PathLock(lock_path(self.path), params['lock_timeout'])
        elif os.path.exists(lock_path(self.path)):
            # Check mode writes nothing, but waits for a running build so it reports its outcome.
            lock = PathLock(lock_path(self.path), params['lock_timeout'], shared=True)
        if lock is not None and not lock.acquire():
            self.fail('lock_timeout: %s is held by another run for more than %d s' % (
                lock_path(self.path), params['lock_timeout']))
        try:
            if not self.module.check_mode:
                for stale in stale_temp_files(self.path):
                    _remove(stale)
            return self._present_locked(ops, template, size, summary)
        finally:
            if lock is not None:
                lock.release()

    def _present_locked(self, ops, template, size, summary):
        params = self.params
        state = read_state(self.path)
        salt = state['salt'] if state else new_salt()
        hashes = dict((field, secret_hash(secret, salt)) for field, secret in secret_fields(ops, params.get('root_password')))
        key = image_key(summary, hashes)
        exists = os.path.isfile(self.path)
        image_state = 'absent'
        if exists:
            recorded = (state or {}).get('image', {}).get('identity')
            image_state = 'present' if recorded == file_identity(self.path, inode=True) else 'changed since it was built'
        up_to_date = exists and state is not None and state.get('key') == key and image_state == 'present'
        policy = params['rebuild']
        build = policy == 'always' or not exists or (policy == 'changed' and not up_to_date)

        before = dict((state or {}).get('summary') or {}, image=image_state)
        after = dict(mark_changed_secrets(summary, hashes, (state or {}).get('secret_hashes') or {}), image='present')
        self.result.update(changed=build, rebuilt=False, key=key, diff={'before': before, 'after': after})
        if not build:
            image = (state or {}).get('image') or {}
            self.result.update(checksum=image.get('checksum'),
                               virtual_size=image.get('virtual_size') or virtual_size(self.path, params['format']))
            if policy == 'never' and not up_to_date:
                self.result['key'] = (state or {}).get('key')
            return self._finish()
        if self.module.check_mode:
            self.result.update(checksum=None, virtual_size=size)
            return self._finish()
        self._build(ops, template, size, summary, salt, hashes, key)
        return self._finish()

    def _build(self, ops, template, size, summary, salt, hashes, key):
        params = self.params
        binary = self.runner.bin_path('virt-builder', INSTALL_HINT)
        staging = tempfile.mkdtemp(prefix='kvm-auto-image-')
        output = temp_path(self.path)
        try:
            plan = plan_build(ops, staging, hostname=params.get('hostname'), root_password=params.get('root_password'),
                              osinfo=template.get('osinfo'), require_forwarding=params.get('require_forwarding'),
                              require_ssh=params.get('require_ssh'))
            for file_path, text, mode in plan['files']:
                _write_private(file_path, text, mode)
            commands_file = os.path.join(staging, 'customize.txt')
            _write_private(commands_file, '\n'.join(plan['lines']) + '\n', 0o600)
            argv = virt_builder_build_argv(
                binary, template['name'], output, size, params['format'], params['arch'], commands_file,
                sources=params['sources'], check_signature=params['check_signature'], cache=params['cache'],
                cache_dir=params.get('cache_dir'), network=plan['network'],
                selinux_relabel=uses_selinux(template.get('osinfo')))
            self.result['operations'] = list(plan['lines'])
            rc, out, err = self.runner.run(argv, check_rc=False)
            if rc != 0:
                field = failed_field(plan, (err or '') + (out or ''))
                where = ' (%s)' % field if field else ''
                message = CHECK_MESSAGES.get(field) or (
                    'virt-builder failed with rc=%d%s: %s' % (rc, where, self._last_error(err)))
                self.fail(message,
                          rc=rc, stdout=self.runner.scrub(out), stderr=self.runner.scrub(err),
                          cmd=self.runner.commands[-1])
            if not os.path.isfile(output):
                self.fail('virt-builder reported success but wrote no image at %s' % output)
            if params['format'] == 'qcow2' and is_mostly_holes(*allocation(output)):
                self._compact(output)
            checksum = 'sha256:' + file_sha256(output)
            vsize = virtual_size(output, params['format'])
            os.chmod(output, 0o600)  # /etc/shadow of the guest is inside
            with open(output, 'rb') as handle:
                os.fsync(handle.fileno())
            # Old state first: an image renamed into place must never pair with a stale key.
            _remove(state_path(self.path))
            os.rename(output, self.path)
            fsync_dir(os.path.dirname(self.path))
            write_state(self.path, {
                'version': STATE_VERSION,
                'key': key,
                'salt': salt,
                'secret_hashes': hashes,
                'summary': summary,
                'image': {'checksum': checksum, 'virtual_size': vsize, 'format': params['format'],
                          'identity': file_identity(self.path, inode=True)},
                'osinfo': template.get('osinfo'),
                'built_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            })
            self.result.update(rebuilt=True, checksum=checksum, virtual_size=vsize)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if os.path.lexists(output):
                os.unlink(output)

    def _compact(self, output):
        """Replace ``output`` by a copy of it without its preallocated holes (see qcow2_compact_argv)."""
        compact = temp_path(self.path, 'compact')
        # Created here 0600, so the guest's /etc/shadow is never in a file others may read.
        os.close(os.open(compact, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            qemu_img = self.runner.bin_path('qemu-img', 'this host (install qemu-utils)')
            self.runner.run(qcow2_compact_argv(qemu_img, output, compact), field='disk_size')
            os.rename(compact, output)
        finally:
            if os.path.lexists(compact):
                os.unlink(compact)

    def _last_error(self, err):
        lines = [line for line in self.runner.scrub(err or '').splitlines() if line.strip()]
        errors = [line for line in lines if 'error' in line.lower()]
        return (errors or lines or ['no error output'])[-1]

    def _finish(self):
        self.result['commands'] = list(self.runner.commands)
        return self.result

    def run(self):
        try:
            if self.params['state'] == 'absent':
                result = self.absent()
            else:
                result = self.present()
        except ImageInputError as exc:
            self.fail(str(exc))
        result['commands'] = list(self.runner.commands)
        return result


def run_module(module):
    """Entry point of the kvm_auto_image module."""
    result = ImageBuild(module).run()
    module.exit_json(**result)
