# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""What the modules that manage libvirt objects share: one connection, and ownership.

A libvirt object (domain, network) that cyris.kvm_auto made carries one element of ours in its
``<metadata>``, in the namespace ``metadata_namespace(kind)`` and named ``kind``; an object
without it is someone else's and is never changed.  The XML helpers are pure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback
import xml.etree.ElementTree as ET

LIBVIRT_IMPORT_ERROR = None
try:
    import libvirt
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()

METADATA_PREFIX = 'kvmauto'
_NAMESPACE_ROOT = 'https://github.com/cyris-kvm-auto/cyris.kvm_auto/'
# Children libvirt keeps before <metadata> (domains and networks alike).
_BEFORE_METADATA = ('name', 'uuid', 'genid', 'title', 'description')
# What libvirt calls the object of each kind, for messages.
_LIBVIRT_NOUN = {'vm': 'domain'}


def metadata_namespace(kind):
    """Namespace of our <metadata> element on libvirt objects of ``kind`` (vm, network)."""
    return '%s%s/1' % (_NAMESPACE_ROOT, kind)


def find_ours(root, kind):
    """Our <metadata> element in the parsed definition ``root``, or None (not made by us)."""
    return root.find('metadata/{%s}%s' % (metadata_namespace(kind), kind))


def metadata_element(kind, attributes):
    """Our <metadata> element for a ``kind`` object, carrying ``attributes``.

    The prefix is written literally, not through ElementTree's prefix registry: that registry is
    process-wide and holds one namespace per prefix, and every kind uses the prefix kvmauto.
    """
    element = ET.Element('%s:%s' % (METADATA_PREFIX, kind))
    element.set('xmlns:%s' % METADATA_PREFIX, metadata_namespace(kind))
    for key in sorted(attributes):
        element.set(key, attributes[key])
    return element


def put_metadata(root, kind, element):
    """Put ``element`` into the <metadata> of ``root`` in place of ours of ``kind``.

    <metadata> is made, where libvirt keeps it, when missing; other programs' elements stay.
    """
    metadata = root.find('metadata')
    if metadata is None:
        metadata = ET.Element('metadata')
        root.insert(len([c for c in root if c.tag in _BEFORE_METADATA]), metadata)
    old = find_ours(root, kind)
    if old is not None:
        metadata.remove(old)
    metadata.append(element)


def foreign_reason(kind, ours, owner=None):
    """Why the libvirt object of ``kind`` (vm, network) of the name asked for is not ours to change, or None.

    ``ours`` is what ``find_ours`` found, or its attributes as a dict; with ``owner``, ours must also
    have been made for that owner.
    """
    if ours is None:
        return ('the libvirt %s of this name was not created by cyris.kvm_auto (no <metadata> in namespace %s); '
                'rename it or remove it' % (_LIBVIRT_NOUN.get(kind, kind), metadata_namespace(kind)))
    recorded = ours.get('owner')
    if owner is not None and recorded != owner:
        return 'it was created by cyris.kvm_auto for owner %s, not %s; refusing to change it' % (recorded, owner)
    return None


class LibvirtConnection:
    """One libvirt connection; methods raise ``error`` (set by the subclass) naming what failed and why."""

    error = Exception

    def __init__(self, uri):
        self.uri = uri
        # Without a handler libvirt prints every error on stderr, also those we expect.
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        try:
            self.conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise self.error('cannot connect to libvirt at uri %s (is libvirtd running?): %s' % (uri, exc))

    def close(self):
        try:
            self.conn.close()
        except libvirt.libvirtError:
            pass  # closing a broken connection: nothing left to release

    def lookup_network(self, name):
        """The network named ``name``, or None."""
        try:
            return self.conn.networkLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
                return None
            raise self.error('cannot look up network %s in libvirt: %s' % (name, exc))

    def network_active(self, name):
        """True/False for a defined network's activity; None when libvirt has no such network."""
        network = self.lookup_network(name)
        if network is None:
            return None
        try:
            return bool(network.isActive())
        except libvirt.libvirtError as exc:
            raise self.error('cannot look up network %s in libvirt: %s' % (name, exc))
