# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run logic of kvm_auto_image against a recorded virt-builder.

A small stand-in for AnsibleModule answers ``virt-builder --list`` with a fixed
listing and "builds" by writing a qcow2 header to the --output file (as long as
the virtual disk and mostly holes when resized, as virt-builder does), and
"compacts" with ``qemu-img convert`` by copying the written bytes, so state,
lock, atomic rename, check mode and failure paths run without a hypervisor (the
integration target runs the real virt-builder and qemu-img).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import hashlib
import json
import os
import stat
import struct

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _image_build
from ansible_collections.cyris.kvm_auto.plugins.module_utils._files import allocation, is_mostly_holes
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_build import (
    ImageBuild, PathLock, lock_path, read_state, state_path, stale_temp_files, temp_path, virtual_size, write_state)

GIB = 1024 ** 3
TEMPLATE_SIZE = 6 * GIB


class Failed(Exception):
    pass


class RecordedModule:
    """Just enough of AnsibleModule for ImageBuild; virt-builder is recorded, not run."""

    def __init__(self, params, index_uri, check_mode=False, build_rc=0, build_err='', compact_rc=0):
        self.params = dict(
            name=None, state='present', image_name='debian-12', disk_size=None, format='qcow2', hostname=None,
            root_password=None, tasks=[], sources=[], virt_builder_config_dir='/t/config', cache=True, cache_dir=None,
            check_signature=False, arch='x86_64', environment={'LIBGUESTFS_BACKEND': 'direct'}, rebuild='changed',
            lock_timeout=5)
        self.params.update(params)
        self.check_mode = check_mode
        self.index_uri = index_uri
        self.build_rc = build_rc
        self.build_err = build_err
        self.compact_rc = compact_rc
        self.runs = []
        self.builds = []
        self.compactions = []
        self.warnings = []

    def get_bin_path(self, name):
        return '/usr/bin/' + name

    def warn(self, msg):
        self.warnings.append(msg)

    def fail_json(self, **kwargs):
        raise Failed(kwargs)

    def run_command(self, argv, data=None, environ_update=None, expand_user_and_vars=True, binary_data=False):
        self.runs.append((list(argv), dict(environ_update or {})))
        if '--list' in argv:
            listing = {'version': 1, 'sources': [{'uri': self.index_uri}], 'templates': [
                {'os-version': 'debian-12', 'arch': 'x86_64', 'size': TEMPLATE_SIZE, 'osinfo': 'debian12', 'hidden': False}]}
            return 0, json.dumps(listing), ''
        if argv[0].endswith('/qemu-img'):
            return self.record_compaction(argv)
        commands_file = argv[argv.index('--commands-from-file') + 1]
        with open(commands_file) as handle:
            lines = handle.read().splitlines()
        secrets = {}
        for line in lines:
            if line.startswith(('password ', 'root-password file:')):
                path = line.rsplit(':', 1)[1]
                secrets[path] = (stat.S_IMODE(os.stat(path).st_mode), open(path).read())
        self.builds.append({'argv': list(argv), 'lines': lines, 'secrets': secrets,
                            'commands_mode': stat.S_IMODE(os.stat(commands_file).st_mode)})
        if self.build_rc:
            return self.build_rc, '', self.build_err(lines) if callable(self.build_err) else self.build_err
        size = int(argv[argv.index('--size') + 1].rstrip('b'))
        with open(argv[argv.index('--output') + 1], 'wb') as handle:
            handle.write(b'QFI\xfb' + b'\0' * 20 + struct.pack('>Q', size) + os.urandom(64))
            if size > TEMPLATE_SIZE:
                # virt-resize's output: as long as the virtual disk, holes where no data is.
                handle.truncate(size)
        return 0, 'built', ''

    def record_compaction(self, argv):
        source, output = argv[-2:]
        self.compactions.append({'argv': list(argv), 'output_mode': stat.S_IMODE(os.stat(output).st_mode)})
        if self.compact_rc:
            return self.compact_rc, '', 'qemu-img: error while writing'
        with open(source, 'rb') as handle:
            written = handle.read(1024).rstrip(b'\0')
        with open(output, 'wb') as handle:
            handle.write(written)
        return 0, '', ''


@pytest.fixture
def repo(tmp_path):
    index = tmp_path / 'index'
    index.write_text(u'[debian-12]\narch=x86_64\nrevision=4\nchecksum[sha512]=feed\nosinfo=debian12\n')
    images = tmp_path / 'images'
    images.mkdir()
    config = tmp_path / 'config'
    (config / 'virt-builder' / 'repos.d').mkdir(parents=True)
    return {'index': 'file://%s' % index, 'path': str(images / 'desktop.qcow2'), 'dir': images, 'tmp': tmp_path,
            'config': str(config)}


TASKS = [{'add_account': [{'account': 'daniel', 'passwd': 'Pw-daniel-1'}]},
         {'modify_account': [{'account': 'daniel', 'new_account': 'trainee'}]}]


def run(repo, check_mode=False, **params):
    params.setdefault('path', repo['path'])
    params.setdefault('tasks', TASKS)
    params.setdefault('virt_builder_config_dir', repo['config'])
    module = RecordedModule(params, repo['index'], check_mode=check_mode)
    return ImageBuild(module).run(), module


def test_first_run_builds_atomically_with_private_files(repo):
    result, module = run(repo, root_password='R00t-pw', hostname='desktop', disk_size='8G')
    assert result['changed'] is True and result['rebuilt'] is True
    assert len(module.builds) == 1
    build = module.builds[0]
    assert build['commands_mode'] == 0o600
    assert sorted(v for v in build['secrets'].values()) == [(0o600, 'Pw-daniel-1\n'), (0o600, 'R00t-pw\n')]
    assert not [p for p in build['secrets'] if os.path.exists(p)], 'password files must be removed'
    argv = build['argv']
    assert argv[argv.index('--size') + 1] == '%db' % (8 * GIB)
    assert '--no-network' in argv and '--no-check-signature' in argv
    assert 'password trainee:file:' in '\n'.join(build['lines'])
    env = module.runs[-1][1]
    assert env['VIRT_BUILDER_DIRS'] == repo['config'] and env['LIBGUESTFS_BACKEND'] == 'direct'
    with open(repo['path'], 'rb') as handle:
        assert result['checksum'] == 'sha256:' + hashlib.sha256(handle.read()).hexdigest()
    assert result['virtual_size'] == 8 * GIB
    assert result['osinfo'] == 'debian12' and result['os_type'] == 'debian_12'
    assert result['template'] == {'name': 'debian-12', 'revision': '4', 'checksum': 'sha512:feed'}
    assert stat.S_IMODE(os.stat(repo['path']).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state_path(repo['path'])).st_mode) == 0o600
    assert stale_temp_files(repo['path']) == []
    text = json.dumps([result, open(state_path(repo['path'])).read()])
    assert 'Pw-daniel-1' not in text and 'R00t-pw' not in text
    for command in result['commands']:
        assert 'Pw-daniel-1' not in command


def test_resized_qcow2_is_compacted_before_the_rename(repo):
    result, module = run(repo, disk_size='8G')
    assert len(module.compactions) == 1
    compaction = module.compactions[0]
    built = module.builds[0]['argv'][module.builds[0]['argv'].index('--output') + 1]
    assert compaction['argv'][:-1] == ['/usr/bin/qemu-img', 'convert', '-f', 'qcow2', '-O', 'qcow2', built]
    assert os.path.basename(compaction['argv'][-1]).startswith('.desktop.qcow2.kvm-auto-tmp-compact-')
    assert compaction['output_mode'] == 0o600
    assert result['commands'][-1] == ' '.join(compaction['argv'])
    assert not is_mostly_holes(*allocation(repo['path']))
    assert result['virtual_size'] == 8 * GIB
    with open(repo['path'], 'rb') as handle:
        assert result['checksum'] == 'sha256:' + hashlib.sha256(handle.read()).hexdigest()
    assert read_state(repo['path'])['image']['checksum'] == result['checksum']
    assert stale_temp_files(repo['path']) == []
    again, module = run(repo, disk_size='8G')
    assert again['changed'] is False and module.builds == [] and module.compactions == []


@pytest.mark.parametrize('params', [dict(), dict(format='raw', disk_size='8G')])
def test_template_size_and_raw_are_not_compacted(repo, monkeypatch, params):
    # Hashing an 8 GiB sparse raw file here would only read zeros.
    monkeypatch.setattr(_image_build, 'file_sha256', lambda path: 'not read')
    result, module = run(repo, **params)
    assert result['rebuilt'] is True and module.compactions == []


def test_failed_compaction_leaves_nothing(repo):
    module = RecordedModule({'path': repo['path'], 'tasks': TASKS, 'disk_size': '8G',
                             'virt_builder_config_dir': repo['config']}, repo['index'], compact_rc=1)
    with pytest.raises(Failed) as info:
        ImageBuild(module).run()
    failure = info.value.args[0]
    assert failure['msg'].startswith('image desktop.qcow2 (disk_size): command failed with rc=1: /usr/bin/qemu-img convert')
    assert failure['stderr'] == 'qemu-img: error while writing'
    assert not os.path.exists(repo['path']) and not os.path.exists(state_path(repo['path']))
    assert stale_temp_files(repo['path']) == []


def test_rerun_is_a_noop_without_build(repo):
    first, dummy = run(repo)
    result, module = run(repo)
    assert result['changed'] is False and result['rebuilt'] is False
    assert module.builds == []
    assert result['key'] == first['key'] and result['checksum'] == first['checksum']
    assert result['diff']['before'] == result['diff']['after']


@pytest.mark.parametrize('change', [
    dict(tasks=TASKS + [{'add_account': [{'account': 'eve', 'passwd': 'e'}]}]),
    dict(tasks=[{'add_account': [{'account': 'daniel', 'passwd': 'other'}]},
                {'modify_account': [{'account': 'daniel', 'new_account': 'trainee'}]}]),
    dict(hostname='other'),
    dict(disk_size='7G'),
    dict(root_password='new-root'),
    dict(require_forwarding=True),
    dict(require_ssh=True),
])
def test_changed_input_rebuilds_and_check_mode_builds_nothing(repo, change):
    first, dummy = run(repo)
    identity = os.stat(repo['path'])
    checked, module = run(repo, check_mode=True, **change)
    assert checked['changed'] is True and checked['rebuilt'] is False and module.builds == []
    assert os.stat(repo['path']).st_mtime_ns == identity.st_mtime_ns
    assert checked['diff']['before'] != checked['diff']['after']
    result, module = run(repo, **change)
    assert result['changed'] is True and result['rebuilt'] is True and len(module.builds) == 1
    assert result['key'] != first['key']


def test_password_change_shows_in_diff_masked(repo):
    run(repo)
    result, dummy = run(repo, check_mode=True, tasks=[
        {'add_account': [{'account': 'daniel', 'passwd': 'another'}]},
        {'modify_account': [{'account': 'daniel', 'new_account': 'trainee'}]}])
    assert result['diff']['before']['tasks'][0]['add_account']['passwd'] == '********'
    assert result['diff']['after']['tasks'][0]['add_account']['passwd'] == '******** (changed)'
    assert 'another' not in json.dumps(result)


def test_modified_image_file_is_rebuilt(repo):
    run(repo)
    with open(repo['path'], 'ab') as handle:
        handle.write(b'written by someone else')
    result, module = run(repo)
    assert result['diff']['before']['image'] == 'changed since it was built'
    assert result['rebuilt'] is True


def test_missing_state_means_rebuild(repo):
    run(repo)
    os.unlink(state_path(repo['path']))
    result, dummy = run(repo)
    assert result['rebuilt'] is True


@pytest.mark.parametrize('policy, expect_build', [('never', False), ('always', True), ('changed', True)])
def test_rebuild_policy_on_changed_inputs(repo, policy, expect_build):
    first, dummy = run(repo)
    result, module = run(repo, rebuild=policy, hostname='changed')
    assert result['rebuilt'] is expect_build and len(module.builds) == int(expect_build)
    if not expect_build:
        assert result['changed'] is False and result['key'] == first['key']


def test_rebuild_always_on_same_inputs(repo):
    run(repo)
    result, module = run(repo, rebuild='always')
    assert result['changed'] is True and len(module.builds) == 1


def test_stale_temp_files_are_cleaned(repo):
    stale = temp_path(repo['path'])
    with open(stale, 'w') as handle:
        handle.write('partial image of a killed run')
    result, dummy = run(repo)
    assert result['rebuilt'] is True
    assert not os.path.exists(stale)


def test_failed_build_leaves_nothing_and_names_the_task(repo):
    def err(lines):
        # What virt-builder prints when a script fails: the guest log, then its error line.
        script = [line.split(' ', 1)[1] for line in lines if line.startswith('run ')][0]
        return ('kvm-auto-step: tasks[0].add_account[0]\nkvm-auto-step: tasks[1].modify_account[0]\n'
                "usermod: user 'daniel' is currently used by process 1\nR00t-pw leaked\n"
                'virt-builder: error: %s: command exited with an error\n' % script)

    module = RecordedModule({'path': repo['path'], 'tasks': TASKS, 'root_password': 'R00t-pw',
                             'virt_builder_config_dir': repo['config']}, repo['index'], build_rc=1, build_err=err)
    with pytest.raises(Failed) as info:
        ImageBuild(module).run()
    failure = info.value.args[0]
    assert failure['msg'].startswith('image desktop.qcow2: virt-builder failed with rc=1 (tasks[1].modify_account[0])')
    assert failure['rc'] == 1 and 'R00t-pw' not in json.dumps(failure)
    assert not os.path.exists(repo['path']) and not os.path.exists(state_path(repo['path']))
    assert stale_temp_files(repo['path']) == []
    assert not [p for p in module.builds[0]['secrets'] if os.path.exists(p)]


@pytest.mark.parametrize('option, message', [
    ('require_forwarding', 'guests of this image forward traffic between networks, but the image has no iptables: '
                           'add an install_package task for iptables'),
    ('require_ssh', 'guests of this image are entry points that trainees reach over SSH, but the image has no SSH '
                    'server: add an install_package task for openssh-server'),
])
def test_a_failed_image_check_says_what_the_image_lacks(repo, option, message):
    def err(lines):
        script = [line.split(' ', 1)[1] for line in lines if line.startswith('run ')][0]
        return ('kvm-auto-step: tasks[0].add_account[0]\nkvm-auto-step: %s\n%s: %s\n'
                'virt-builder: error: %s: command exited with an error\n' % (option, option, message, script))

    module = RecordedModule({'path': repo['path'], 'tasks': TASKS, 'virt_builder_config_dir': repo['config'],
                             option: True}, repo['index'], build_rc=1, build_err=err)
    with pytest.raises(Failed) as info:
        ImageBuild(module).run()
    assert info.value.args[0]['msg'] == 'image desktop.qcow2: ' + message
    assert not os.path.exists(repo['path']) and not os.path.exists(state_path(repo['path']))


@pytest.mark.parametrize('params, message', [
    (dict(disk_size='2G'), 'image desktop.qcow2: disk_size: 2G is smaller than template debian-12 (6G)'),
    (dict(disk_size='20 G'), 'image desktop.qcow2: disk_size:'),
    (dict(image_name='debian-13'), 'image desktop.qcow2: image_name: template debian-13 is not in the virt-builder '
                                   'sources (closest: debian-12)'),
    (dict(image_name=None), 'image desktop.qcow2: image_name: required when state is present'),
    (dict(name='web', hostname='bad host'), "image web: hostname: 'bad host' is not a valid host name"),
    (dict(tasks=[{'add_account': [{'account': 'Bad', 'passwd': 'secret-pw'}]}]),
     "image desktop.qcow2: tasks[0].add_account[0].account: 'Bad' is not a valid account name"),
    (dict(root_password='two\nlines'), 'image desktop.qcow2: root_password: the password must be a single line'),
])
def test_validation_failures_name_the_field(repo, params, message):
    with pytest.raises(Failed) as info:
        run(repo, **params)
    assert info.value.args[0]['msg'].startswith(message)
    assert 'secret-pw' not in json.dumps(info.value.args[0])


def test_config_dir_without_repositories_is_refused(repo):
    with pytest.raises(Failed) as info:
        run(repo, virt_builder_config_dir=str(repo['tmp']))
    assert "virt_builder_config_dir: '%s' holds no virt-builder/repos.d directory" % repo['tmp'] in info.value.args[0]['msg']


def test_missing_directory_is_refused(repo):
    with pytest.raises(Failed) as info:
        run(repo, path=str(repo['tmp'] / 'nowhere' / 'x.qcow2'))
    assert 'path: the directory' in info.value.args[0]['msg']


def test_lock_timeout(repo):
    fd = os.open(lock_path(repo['path']), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(Failed) as info:
            run(repo, lock_timeout=1)
        assert 'lock_timeout' in info.value.args[0]['msg']
    finally:
        os.close(fd)
    result, dummy = run(repo, lock_timeout=1)
    assert result['rebuilt'] is True


def test_absent_removes_everything_then_is_unchanged(repo):
    run(repo)
    with open(temp_path(repo['path']), 'w') as handle:
        handle.write('stale')
    checked, dummy = run(repo, state='absent', check_mode=True)
    assert checked['changed'] is True and os.path.exists(repo['path'])
    result, dummy = run(repo, state='absent')
    assert result['changed'] is True
    assert os.listdir(str(repo['dir'])) == []
    again, module = run(repo, state='absent')
    assert again['changed'] is False and module.runs == []


def test_state_file_round_trip_and_corruption(repo):
    write_state(repo['path'], {'version': 1, 'salt': 'ab', 'key': 'k'})
    assert read_state(repo['path'])['key'] == 'k'
    with open(state_path(repo['path']), 'w') as handle:
        handle.write('{not json')
    assert read_state(repo['path']) is None
    assert stale_temp_files(repo['path']) == []


def test_virtual_size(repo):
    raw = repo['dir'] / 'disk.raw'
    raw.write_bytes(b'\0' * 4096)
    assert virtual_size(str(raw), 'raw') == 4096
    assert virtual_size(str(raw), 'qcow2') is None


def test_shared_lock_waits_for_exclusive(repo):
    holder = PathLock(lock_path(repo['path']), 1)
    assert holder.acquire()
    try:
        assert PathLock(lock_path(repo['path']), 0.5, shared=True).acquire() is False
    finally:
        holder.release()
    reader = PathLock(lock_path(repo['path']), 0.5, shared=True)
    assert reader.acquire() is True
    reader.release()


def test_shared_lock_without_lock_file(repo):
    assert PathLock(lock_path(repo['path']), 0.5, shared=True).acquire() is True
    assert not os.path.exists(lock_path(repo['path']))
