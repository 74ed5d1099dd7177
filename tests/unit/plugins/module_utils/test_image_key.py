# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _image_key
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_key import (
    CHANGED_SECRET, content_digest, image_key, input_digests, mark_changed_secrets, new_salt, secret_hash, summarize)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_tasks import normalize_tasks, secret_fields

TEMPLATE = {'name': 'debian-12', 'revision': '1', 'checksum': 'sha512:aa', 'size': 6 * 1024 ** 3}
SALT = '00112233445566778899aabbccddeeff'


@pytest.fixture
def tree(tmp_path):
    (tmp_path / 'src').mkdir()
    (tmp_path / 'src' / 'b.txt').write_text(u'b')
    (tmp_path / 'src' / 'sub').mkdir()
    (tmp_path / 'src' / 'sub' / 'a.txt').write_text(u'a')
    (tmp_path / 'flag.txt').write_text(u'flag')
    (tmp_path / 'rules').write_text(u'-A INPUT -j ACCEPT\n')
    return tmp_path


def key_of(tree, tasks=None, root_password=None, salt=SALT, **overrides):
    args = dict(image_name='debian-12', arch='x86_64', template=TEMPLATE, size_bytes=TEMPLATE['size'],
                image_format='qcow2', hostname='desktop')
    args.update(overrides)
    if tasks is None:
        tasks = [{'add_account': [{'account': 'alice', 'passwd': 'pw1'}]},
                 {'copy_content': [{'src': str(tree / 'src'), 'dst': '/opt'}]},
                 {'firewall_rules': [{'rule': str(tree / 'rules')}]}]
    ops = normalize_tasks(tasks)
    summary = summarize(args['image_name'], args['arch'], args['template'], args['size_bytes'], args['image_format'],
                        args['hostname'], root_password is not None, ops, input_digests(ops))
    hashes = dict((f, secret_hash(s, salt)) for f, s in secret_fields(ops, root_password))
    return image_key(summary, hashes), summary, hashes


def test_secret_hash_is_salted_and_stable():
    assert secret_hash('pw', SALT) == secret_hash('pw', SALT)
    assert secret_hash('pw', SALT) != secret_hash('pw', new_salt())
    assert secret_hash('pw', SALT) != secret_hash('pw2', SALT)
    assert len(new_salt()) == 32 and new_salt() != new_salt()


def test_content_digest_tracks_content_names_and_modes(tree):
    before = content_digest(str(tree / 'src'))
    assert before.startswith('sha256:') and before == content_digest(str(tree / 'src'))
    (tree / 'src' / 'sub' / 'a.txt').write_text(u'A')
    changed = content_digest(str(tree / 'src'))
    assert changed != before
    os.chmod(str(tree / 'src' / 'b.txt'), 0o600)
    assert content_digest(str(tree / 'src')) != changed
    (tree / 'src' / 'c.txt').write_text(u'')
    assert content_digest(str(tree / 'src')) != changed
    assert content_digest(str(tree / 'flag.txt')) != content_digest(str(tree / 'rules'))


def test_same_inputs_same_key(tree):
    assert key_of(tree)[0] == key_of(tree)[0]


@pytest.mark.parametrize('change', [
    dict(hostname='server'),
    dict(size_bytes=7 * 1024 ** 3),
    dict(image_format='raw'),
    dict(arch='aarch64'),
    dict(template=dict(TEMPLATE, revision='2')),
    dict(template=dict(TEMPLATE, checksum='sha512:bb')),
    dict(root_password='r'),
    dict(salt='ff' * 16),
    dict(tasks=[{'add_account': [{'account': 'alice', 'passwd': 'pw2'}]}]),
    dict(tasks=[]),
])
def test_any_input_changes_the_key(tree, change):
    assert key_of(tree, **change)[0] != key_of(tree)[0]


MALWARE = {'name': 'miner', 'mode': 'dummy_calculation', 'cpu_utilization': 30}


@pytest.mark.parametrize('other', [
    dict(MALWARE, name='miner2'),
    dict(MALWARE, cpu_utilization=31),
    {'name': 'miner', 'mode': 'port_listening', 'port': 4444},
])
def test_malware_tasks_change_the_key(tree, other):
    keys = set(key_of(tree, tasks=tasks)[0] for tasks in (
        [], [{'emulate_malware': [MALWARE]}], [{'emulate_malware': [other]}]))
    assert len(keys) == 3


def test_malware_program_enters_the_key_of_its_images_only(tree, monkeypatch):
    plain, with_malware = key_of(tree, tasks=[])[0], key_of(tree, tasks=[{'emulate_malware': [MALWARE]}])[0]
    monkeypatch.setattr(_image_key, 'MALWARE_DIGEST', 'sha256:' + '0' * 64)
    assert key_of(tree, tasks=[])[0] == plain
    assert key_of(tree, tasks=[{'emulate_malware': [MALWARE]}])[0] != with_malware


def test_copied_content_changes_the_key(tree):
    before = key_of(tree)[0]
    (tree / 'src' / 'b.txt').write_text(u'new')
    assert key_of(tree)[0] != before
    (tree / 'src' / 'b.txt').write_text(u'b')
    (tree / 'rules').write_text(u'-A INPUT -j DROP\n')
    assert key_of(tree)[0] != before


def test_controller_path_of_copied_files_does_not_count(tree):
    (tree / 'elsewhere').mkdir()
    shutil.copytree(str(tree / 'src'), str(tree / 'elsewhere' / 'src'))
    shutil.copy2(str(tree / 'rules'), str(tree / 'elsewhere' / 'rules'))
    moved = [{'add_account': [{'account': 'alice', 'passwd': 'pw1'}]},
             {'copy_content': [{'src': str(tree / 'elsewhere' / 'src'), 'dst': '/opt'}]},
             {'firewall_rules': [{'rule': str(tree / 'elsewhere' / 'rules')}]}]
    assert key_of(tree, tasks=moved)[0] == key_of(tree)[0]


def test_summary_and_hashes_hold_no_password(tree):
    key, summary, hashes = key_of(tree, root_password='R00tPw!')
    text = json.dumps([key, summary, hashes])
    assert 'pw1' not in text and 'R00tPw!' not in text
    assert summary['root_password'] == '********'
    assert summary['tasks'][0] == {'task': 'tasks[0].add_account[0]',
                                   'add_account': {'account': 'alice', 'passwd': '********', 'full_name': None}}
    assert summary['disk_size'] == '6G'


def test_mark_changed_secrets(tree):
    dummy, summary, old = key_of(tree, root_password='r1')
    dummy, summary, new = key_of(tree, root_password='r2',
                                 tasks=[{'add_account': [{'account': 'alice', 'passwd': 'pw2'}]}])
    marked = mark_changed_secrets(summary, new, old)
    assert marked['root_password'] == CHANGED_SECRET
    assert marked['tasks'][0]['add_account']['passwd'] == CHANGED_SECRET
    assert summary['tasks'][0]['add_account']['passwd'] == '********'
    assert mark_changed_secrets(summary, new, new) == summary
