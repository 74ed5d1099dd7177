# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import (
    TemplateError, boot_wait_of, find_template, index_entry, os_type_from_osinfo, osinfo_from_os_type, package_manager_of, parse_index,
    parse_template_list, qcow2_compact_argv, uses_selinux, virt_builder_build_argv, virt_builder_environment,
    virt_builder_list_argv)

VB = '/usr/bin/virt-builder'


@pytest.mark.parametrize('kwargs, expected', [
    ({}, [VB, '--list', '--list-format', 'json']),
    ({'check_signature': False}, [VB, '--list', '--list-format', 'json', '--no-check-signature']),
    ({'sources': ['file:///r/index', 'http://x/index.asc']},
     [VB, '--list', '--list-format', 'json', '--source', 'file:///r/index', '--source', 'http://x/index.asc']),
])
def test_list_argv(kwargs, expected):
    assert virt_builder_list_argv(VB, **kwargs) == expected


BASE = [VB, 'debian-12', '--arch', 'x86_64', '--output', '/i/.a.tmp', '--format', 'qcow2']
TAIL = ['--no-logfile', '--commands-from-file', '/s/customize.txt']


@pytest.mark.parametrize('kwargs, middle', [
    ({}, ['--size', '6442450944b']),
    ({'size_bytes': None}, []),
    ({'check_signature': False, 'sources': ['file:///r/index']},
     ['--size', '6442450944b', '--source', 'file:///r/index', '--no-check-signature']),
    ({'cache': False, 'cache_dir': '/c'}, ['--size', '6442450944b', '--no-cache']),
    ({'cache': True, 'cache_dir': '/c'}, ['--size', '6442450944b', '--cache', '/c']),
    ({'network': False}, ['--size', '6442450944b', '--no-network']),
    ({'selinux_relabel': True}, ['--size', '6442450944b', '--selinux-relabel']),
])
def test_build_argv(kwargs, middle):
    options = dict(kwargs)
    size = options.pop('size_bytes', 6 * 1024 ** 3)
    argv = virt_builder_build_argv(VB, 'debian-12', '/i/.a.tmp', size, 'qcow2', 'x86_64', '/s/customize.txt', **options)
    assert argv == BASE + middle + TAIL


def test_build_argv_holds_no_password_option():
    argv = virt_builder_build_argv(VB, 'debian-12', '/o', 1, 'raw', 'x86_64', '/s/c')
    assert not [a for a in argv if 'password' in a]


@pytest.mark.parametrize('config_dir, extra, expected', [
    (None, None, {}),
    ('/t/config', None, {'VIRT_BUILDER_DIRS': '/t/config', 'XDG_CONFIG_HOME': '/t/config'}),
    (None, {'LIBGUESTFS_BACKEND': 'direct', 'N': 1}, {'LIBGUESTFS_BACKEND': 'direct', 'N': '1'}),
])
def test_environment(config_dir, extra, expected):
    assert virt_builder_environment(config_dir, extra) == expected


LISTING = json.dumps({
    'version': 1,
    'sources': [{'uri': 'file:///var/lib/t/index'}],
    'templates': [
        {'os-version': 'debian-12', 'full-name': 'Debian 12', 'arch': 'x86_64', 'size': 6442450944,
         'osinfo': 'debian12', 'aliases': ['bookworm'], 'hidden': False},
        {'os-version': 'debian-11', 'arch': 'x86_64', 'size': 6442450944, 'osinfo': 'debian11', 'hidden': False},
        {'os-version': 'fedora-38', 'arch': 'aarch64', 'size': 6442450944, 'osinfo': 'fedora38', 'hidden': False},
    ],
})


def test_parse_template_list():
    listing = parse_template_list(LISTING)
    assert listing['sources'] == ['file:///var/lib/t/index']
    assert listing['templates'][0] == {
        'name': 'debian-12', 'arch': 'x86_64', 'size': 6442450944, 'osinfo': 'debian12', 'full_name': 'Debian 12',
        'aliases': ['bookworm'], 'hidden': False}


@pytest.mark.parametrize('name, arch, found', [
    ('debian-12', 'x86_64', 'debian-12'),
    ('bookworm', 'x86_64', 'debian-12'),
    ('fedora-38', 'aarch64', 'fedora-38'),
])
def test_find_template(name, arch, found):
    assert find_template(parse_template_list(LISTING), name, arch)['name'] == found


@pytest.mark.parametrize('name, arch, message', [
    ('debian-13', 'x86_64', 'template debian-13 is not in the virt-builder sources (closest: debian-12, debian-11)'),
    ('fedora-38', 'x86_64', 'template fedora-38 exists only for arch aarch64, not x86_64'),
    ('windows', 'x86_64', 'available: debian-11, debian-12, fedora-38'),
])
def test_find_template_misses(name, arch, message):
    with pytest.raises(TemplateError) as info:
        find_template(parse_template_list(LISTING), name, arch)
    assert message in str(info.value)


def test_find_template_miss_lists_the_names_offered():
    with pytest.raises(TemplateError) as info:
        find_template(parse_template_list(LISTING), 'debian-13', 'x86_64')
    assert info.value.known == ['debian-11', 'debian-12', 'fedora-38']
    with pytest.raises(TemplateError) as info:
        find_template(parse_template_list(LISTING), 'fedora-38', 'x86_64')
    assert info.value.known is None


def test_find_template_entry_known_by_name_only_matches_every_arch():
    entry = {'name': 'debian-12', 'arch': None, 'size': None, 'osinfo': None, 'aliases': [], 'hidden': False}
    assert find_template({'templates': [entry]}, 'debian-12', 'aarch64') is entry


def test_parse_template_list_takes_the_decoded_document():
    assert parse_template_list(json.loads(LISTING)) == parse_template_list(LISTING)


@pytest.mark.parametrize('text', ['not json', '{"templates": 3}', '[]'])
def test_parse_template_list_rejects(text):
    with pytest.raises(TemplateError):
        parse_template_list(text)


INDEX = """[debian-12]
name=Debian 12 (bookworm)
osinfo=debian12
arch=x86_64
file=debian-12.qcow2
checksum[sha512]=abc123
format=qcow2
size=6442450944
revision=3
notes=Debian 12
""" + ' ' + """
 A minimal image.

[debian-12]
arch=x86_64
revision=2
checksum[sha512]=old

[debian-11]
arch=x86_64
checksum=def456
"""

SIGNED = """-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

[ubuntu-20.04]
arch=x86_64
revision=7
- -dash line=1
checksum[sha512]=fff
-----BEGIN PGP SIGNATURE-----

iQIcBAEBCgAGBQJ
-----END PGP SIGNATURE-----
"""


def test_parse_index_continuation():
    sections = parse_index(INDEX)
    assert [s[0] for s in sections] == ['debian-12', 'debian-12', 'debian-11']
    assert sections[0][1]['notes'] == 'Debian 12\n\nA minimal image.'


@pytest.mark.parametrize('text, name, arch, expected', [
    (INDEX, 'debian-12', 'x86_64', {'revision': '3', 'checksum': 'sha512:abc123'}),
    (INDEX, 'debian-11', 'x86_64', {'revision': '1', 'checksum': 'sha512:def456'}),
    (INDEX, 'debian-12', 'aarch64', None),
    (INDEX, 'centos-7', 'x86_64', None),
    (SIGNED, 'ubuntu-20.04', 'x86_64', {'revision': '7', 'checksum': 'sha512:fff'}),
])
def test_index_entry(text, name, arch, expected):
    assert index_entry(parse_index(text), name, arch) == expected


@pytest.mark.parametrize('osinfo, os_type', [
    ('debian12', 'debian_12'),
    ('debian11', 'debian_11'),
    ('ubuntu20.04', 'ubuntu_20'),
    ('ubuntu22.04', 'ubuntu_22'),
    ('centos7.0', 'centos.7'),
    ('centos-stream9', 'centos.9'),
    ('fedora38', 'fedora_38'),
    ('rhel9.2', 'rhel_9'),
    ('opensuse15.4', 'opensuse_15'),
    ('win10', 'windows.10'),
    ('win8.1', 'windows.8.1'),
    ('archlinux', 'archlinux'),
    ('fedora-rawhide', 'fedora_rawhide'),
    (None, None),
])
def test_os_type_from_osinfo(osinfo, os_type):
    assert os_type_from_osinfo(osinfo) == os_type


@pytest.mark.parametrize('os_type, osinfo, wait', [
    ('windows.7', 'win7', 'none'),
    ('windows.10', 'win10', 'none'),
    ('windows.8.1', 'win8.1', 'none'),
    ('Windows.7', 'win7', 'none'),
    ('centos.7', 'centos7.0', None),
    ('centos.9', 'centos-stream9', None),
    ('ubuntu_20', 'ubuntu20.04', None),
    ('amazon_linux', 'linux2022', None),
    ('debian_12', 'debian12', None),
    ('fedora_38', 'fedora38', None),
    ('fedora_rawhide', 'fedora-rawhide', None),
    ('archlinux', 'archlinux', None),
    (None, None, None),
])
def test_osinfo_from_os_type_and_its_boot_wait(os_type, osinfo, wait):
    assert osinfo_from_os_type(os_type) == osinfo
    assert boot_wait_of(osinfo) == wait


@pytest.mark.parametrize('os_type', ['windows.10', 'debian_12', 'ubuntu_22', 'centos.7', 'fedora_38', 'windows.8.1'])
def test_osinfo_from_os_type_is_the_inverse_of_os_type_from_osinfo(os_type):
    assert os_type_from_osinfo(osinfo_from_os_type(os_type)) == os_type


@pytest.mark.parametrize('osinfo, manager, selinux', [
    ('debian12', 'apt', False),
    ('ubuntu22.04', 'apt', False),
    ('fedora38', 'dnf', True),
    ('centos7.0', 'dnf', True),
    ('opensuse15.4', 'zypper', False),
    ('win10', None, False),
    (None, None, False),
])
def test_package_manager_and_selinux(osinfo, manager, selinux):
    assert package_manager_of(osinfo) == manager
    assert uses_selinux(osinfo) is selinux


@pytest.mark.parametrize('source, output, expected', [
    ('/i/.a.qcow2.kvm-auto-tmp-image-1', '/i/.a.qcow2.kvm-auto-tmp-compact-2',
     ['/usr/bin/qemu-img', 'convert', '-f', 'qcow2', '-O', 'qcow2', '/i/.a.qcow2.kvm-auto-tmp-image-1',
      '/i/.a.qcow2.kvm-auto-tmp-compact-2']),
    ('/with space/in', '/with space/out',
     ['/usr/bin/qemu-img', 'convert', '-f', 'qcow2', '-O', 'qcow2', '/with space/in', '/with space/out']),
])
def test_qcow2_compact_argv(source, output, expected):
    assert qcow2_compact_argv('/usr/bin/qemu-img', source, output) == expected
