# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""virt-builder: argument lists, the template listing, the repository index, OS names.

Everything here is pure: functions take data and return argv lists or parsed data,
so they can be tested without a hypervisor.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import json
import re


class TemplateError(ValueError):
    """A template name, architecture or listing that cannot be used."""


def virt_builder_environment(config_dir=None, extra=None):
    """Environment for virt-builder: ``config_dir`` makes it read only that repos.d."""
    env = {}
    if config_dir:
        # virt-builder reads repos.d below $XDG_CONFIG_HOME and each of $VIRT_BUILDER_DIRS;
        # pointing both at one directory leaves no other repository in play.
        env['VIRT_BUILDER_DIRS'] = config_dir
        env['XDG_CONFIG_HOME'] = config_dir
    for name, value in (extra or {}).items():
        env[str(name)] = str(value)
    return env


def _source_args(sources, check_signature):
    argv = []
    for url in sources or ():
        argv += ['--source', url]
    if not check_signature:
        argv.append('--no-check-signature')
    return argv


def virt_builder_list_argv(binary, sources=(), check_signature=True):
    """``virt-builder --list`` in JSON over the configured and the extra sources."""
    return [binary, '--list', '--list-format', 'json'] + _source_args(sources, check_signature)


def virt_builder_build_argv(binary, template, output, size_bytes, image_format, arch,
                            commands_file, sources=(), check_signature=True, cache=True,
                            cache_dir=None, network=True, selinux_relabel=False):
    """The one virt-builder run that fetches, resizes and customises an image.

    Every customisation (and every password, as a file reference) is in
    ``commands_file``; nothing secret is on this command line.
    """
    argv = [binary, template, '--arch', arch, '--output', output, '--format', image_format]
    if size_bytes is not None:
        # A plain byte count with the "b" suffix: exact, whatever the unit the user wrote.
        argv += ['--size', '%db' % size_bytes]
    argv += _source_args(sources, check_signature)
    if not cache:
        argv.append('--no-cache')
    elif cache_dir:
        argv += ['--cache', cache_dir]
    if not network:
        argv.append('--no-network')
    if selinux_relabel:
        argv.append('--selinux-relabel')
    # --no-logfile scrubs /tmp/builder.log (the output of our commands) from the image.
    argv += ['--no-logfile', '--commands-from-file', commands_file]
    return argv


def qcow2_compact_argv(qemu_img, source, output):
    """``qemu-img convert`` of qcow2 ``source`` into a new qcow2 ``output`` without its holes.

    virt-builder makes a resized qcow2 image with preallocation=metadata: a file as long as the
    virtual disk, mostly holes, which every plain copy reads and writes in full. The copy holds
    only the clusters with data. ``-f`` names the input format: never probe a guest's disk.
    """
    return [qemu_img, 'convert', '-f', 'qcow2', '-O', 'qcow2', source, output]


def parse_template_list(text):
    """The ``templates`` and ``sources`` of ``virt-builder --list --list-format json``.

    ``text`` is the JSON text, or the document already decoded from it.
    """
    doc = text
    if isinstance(text, (str, bytes)):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise TemplateError('virt-builder --list did not print JSON: %s' % exc)
    if not isinstance(doc, dict) or not isinstance(doc.get('templates'), list):
        raise TemplateError('virt-builder --list printed JSON without a templates list')
    templates = []
    for item in doc['templates']:
        if not isinstance(item, dict) or 'os-version' not in item:
            continue
        templates.append({
            'name': item['os-version'],
            'arch': item.get('arch'),
            'size': int(item['size']) if item.get('size') is not None else None,
            'osinfo': item.get('osinfo'),
            'full_name': item.get('full-name'),
            'aliases': ['%s' % a for a in item.get('aliases') or []],
            'hidden': bool(item.get('hidden', False)),
        })
    sources = [s['uri'] for s in doc.get('sources') or [] if isinstance(s, dict) and s.get('uri')]
    return {'templates': templates, 'sources': sources}


def find_template(listing, name, arch):
    """The entry of ``listing`` for template ``name`` (or an alias) on ``arch``.

    The one template lookup of the collection: kvm_auto_image and the range
    validation both use it.  An entry whose ``arch`` is None (a template known
    by name only) matches every arch.  Raises TemplateError naming the closest
    template names on a miss; the error's ``known`` attribute then lists the
    names offered (hidden ones left out), and is None when only the arch differs.
    """
    templates = listing['templates']
    named = [t for t in templates if t['name'] == name or name in t['aliases']]
    for entry in named:
        if entry['arch'] in (arch, None):
            return entry
    if named:
        error = TemplateError('template %s exists only for arch %s, not %s' % (
            name, ', '.join(sorted(set(str(t['arch']) for t in named))), arch))
        error.known = None
        raise error
    names = sorted(set(t['name'] for t in templates if not t['hidden']))
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        hint = 'closest: %s' % ', '.join(close)
    elif names:
        hint = 'available: %s' % ', '.join(names[:20])
    else:
        hint = 'the configured sources list no template at all'
    error = TemplateError('template %s is not in the virt-builder sources (%s)' % (name, hint))
    error.known = names
    raise error


_PGP_HEADER = '-----BEGIN PGP SIGNED MESSAGE-----'
_PGP_SIGNATURE = '-----BEGIN PGP SIGNATURE-----'


def _strip_clearsign(text):
    """The signed text of a PGP clear-signed document (virt-builder's index.asc)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != _PGP_HEADER:
        return lines
    body = []
    in_headers = True
    for line in lines[1:]:
        if in_headers:
            if not line.strip():
                in_headers = False
            continue
        if line.startswith(_PGP_SIGNATURE):
            break
        # Clear-signing escapes lines that start with a dash as "- ".
        body.append(line[2:] if line.startswith('- ') else line)
    return body


def parse_index(text):
    """Sections of a virt-builder index as a list of (name, {field: value})."""
    sections = []
    current = None
    last_key = None
    for line in _strip_clearsign(text):
        if line[:1] in (' ', '\t'):
            # A continuation line extends the previous field (notes=...).
            if current is not None and last_key is not None:
                current[1][last_key] += '\n' + line[1:]
            continue
        if not line.strip() or line.startswith('#'):
            last_key = None
            continue
        if line.startswith('[') and line.rstrip().endswith(']'):
            current = (line.strip()[1:-1], {})
            sections.append(current)
            last_key = None
            continue
        if '=' in line and current is not None:
            key, value = line.split('=', 1)
            last_key = key.strip()
            current[1][last_key] = value.strip()
    return sections


def _revision_order(revision):
    # virt-builder compares integer revisions as numbers and other ones as text.
    text = str(revision)
    return (0, int(text), '') if text.isdigit() else (1, 0, text)


def index_entry(sections, name, arch):
    """Revision and checksum of ``name``/``arch`` in parsed index ``sections``, or None.

    As virt-builder does, the highest revision wins when a name appears twice.
    """
    found = None
    for section, fields in sections:
        aliases = fields.get('aliases', '').split()
        if section != name and name not in aliases:
            continue
        if fields.get('arch', arch) != arch:
            continue
        entry = {'revision': fields.get('revision', '1'), 'checksum': None}
        for key in ('checksum[sha512]', 'checksum'):
            if fields.get(key):
                entry['checksum'] = 'sha512:' + fields[key]
                break
        if found is None or _revision_order(entry['revision']) > _revision_order(found['revision']):
            found = entry
    return found


_OSINFO_RE = re.compile(r'^(?P<distro>[a-z][a-z-]*?)-?(?P<version>\d[0-9.]*)?$')


def os_type_from_osinfo(osinfo):
    """CyRIS's ``basevm_os_type`` for a libosinfo short id.

    The rule: the distribution part of the id followed by its major version,
    joined with ``_`` (``debian12`` -> ``debian_12``, ``ubuntu20.04`` ->
    ``ubuntu_20``, ``fedora38`` -> ``fedora_38``); CyRIS writes CentOS and
    Windows with a dot (``centos7.0`` -> ``centos.7``, ``centos-stream9`` ->
    ``centos.9``, ``win10`` -> ``windows.10``, ``win8.1`` -> ``windows.8.1``).
    Other dashes become ``_``; an id without a version is returned as it is.
    """
    if not osinfo:
        return None
    match = _OSINFO_RE.match(osinfo)
    if not match:
        return osinfo.replace('-', '_')
    distro, version = match.group('distro'), match.group('version')
    if distro == 'win':
        return 'windows.%s' % version if version else 'windows'
    if not version:
        return distro.replace('-', '_')
    major = version.split('.')[0]
    if distro in ('centos', 'centos-stream'):
        return 'centos.%s' % major
    return '%s_%s' % (distro.replace('-', '_'), major)


# CyRIS's basevm_os_type values whose osinfo id is not the rule's inverse (see osinfo_from_os_type).
_OSINFO_OF_OS_TYPE = {
    'amazon_linux': 'linux2022',  # osinfo-db knows no Amazon Linux: a generic recent Linux
    'amazon_linux_2': 'linux2022',
    'centos.7': 'centos7.0',
    'centos.8': 'centos8',
    'centos.9': 'centos-stream9',
    'ubuntu_16': 'ubuntu16.04',
    'ubuntu_18': 'ubuntu18.04',
    'ubuntu_20': 'ubuntu20.04',
    'ubuntu_22': 'ubuntu22.04',
    'ubuntu_24': 'ubuntu24.04',
}
_OS_TYPE_RE = re.compile(r'^(?P<distro>[a-z][a-z_-]*?)(?:[._](?P<version>\d[0-9.]*))?$')


def osinfo_from_os_type(os_type):
    """The libosinfo short id of CyRIS's ``basevm_os_type``: the inverse of ``os_type_from_osinfo``.

    ``windows.7`` -> ``win7``, ``debian_12`` -> ``debian12``, ``fedora_38`` -> ``fedora38``; the
    values whose osinfo id carries more than the major version (Ubuntu's LTS releases, CentOS)
    and those osinfo-db lacks come from a table. An unknown result is harmless: kvm_auto_vm
    falls back to its ``osinfo_fallback`` with a warning.
    """
    if not os_type:
        return None
    os_type = os_type.lower()
    if os_type in _OSINFO_OF_OS_TYPE:
        return _OSINFO_OF_OS_TYPE[os_type]
    match = _OS_TYPE_RE.match(os_type)
    if not match:
        return os_type
    distro, version = match.group('distro'), match.group('version')
    if distro == 'windows':
        distro = 'win'
    elif distro == 'centos' and version:
        return 'centos%s' % version
    return distro.replace('_', '-') + (version or '')


def boot_wait_of(osinfo):
    """What shows that a guest of ``osinfo`` has booted, when the range role cannot rely on its own
    setting: ``none`` for Windows (no ``login:`` on a serial console, no agent unless installed),
    else None (the role's ``kvm_auto_range_wait_for``)."""
    return 'none' if _distro(osinfo) == 'win' else None


_APT_DISTROS = ('debian', 'ubuntu', 'linuxmint', 'kali')
_ZYPPER_DISTROS = ('opensuse', 'sles', 'sled')
_DNF_DISTROS = ('fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'alma', 'ol')


def _distro(osinfo):
    match = _OSINFO_RE.match(osinfo or '')
    return match.group('distro') if match else ''


def package_manager_of(osinfo):
    """``apt``, ``dnf`` or ``zypper`` for a libosinfo short id, None when unknown."""
    distro = _distro(osinfo)
    for manager, distros in (('apt', _APT_DISTROS), ('zypper', _ZYPPER_DISTROS), ('dnf', _DNF_DISTROS)):
        if distro.startswith(distros):
            return manager
    return None


def uses_selinux(osinfo):
    """True for the Red Hat family, whose images need an SELinux relabel after changes."""
    return _distro(osinfo).startswith(_DNF_DISTROS)
