# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Image configurations of kvm-auto guests and the file names of their builds."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import json
import re

IMAGE_FORMAT = 'qcow2'


def image_config(guest):
    """What shapes a guest's disk: the image-group key (vcpus/memory/hostname excluded)."""
    return {
        'image_name': guest['image_name'],
        'disk_size': guest['disk_size'],
        'format': IMAGE_FORMAT,
        'tasks': guest['tasks'],
    }


def image_file_name(config, salt=None, digests=None):
    """``kvmauto-<image_name>-<12 hex>.qcow2``: a keyed digest of the image configuration.

    The configuration holds passwords, so with ``salt`` (a per-controller secret) the
    digest is an HMAC and the name reveals nothing about them.  ``digests`` maps the
    controller files the tasks copy to their content digests, so a changed file gives
    a new image.
    """
    material = dict(config)
    if digests:
        material['files'] = dict(digests)
    text = json.dumps(material, sort_keys=True, separators=(',', ':'))
    if salt:
        digest = hmac.new(salt.encode('utf-8'), text.encode('utf-8'), hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(text.encode('utf-8')).hexdigest()
    return 'kvmauto-%s-%s.%s' % (config['image_name'], digest[:12], IMAGE_FORMAT), digest


def host_image_file(name, checksum):
    """The file name of built image ``name`` on the KVM hosts: ``<name stem>.<16 hex of its sha256>.qcow2``.

    Naming the copy after its content means a rebuilt image never replaces the file that
    the overlays of existing guests are based on.  None while the checksum is unknown
    (an image that a check-mode run would build).
    """
    if not checksum:
        return None
    digest = checksum.split(':', 1)[-1]
    if not re.match(r'^[0-9a-f]{64}$', digest):
        raise ValueError('%r is not a sha256 checksum' % (checksum,))
    return '%s.%s.%s' % (_image_stem(name), digest[:16], IMAGE_FORMAT)


def host_image_pattern(name):
    """A shell pattern matching every ``host_image_file`` of image ``name``."""
    return '%s.*.%s' % (_image_stem(name), IMAGE_FORMAT)


def _image_stem(name):
    suffix = '.' + IMAGE_FORMAT
    return name[:-len(suffix)] if name.endswith(suffix) else name
