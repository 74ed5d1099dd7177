# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The TCP ports a host listens on, from the text of its ``/proc/net/tcp`` and ``/proc/net/tcp6``.

Pure: kvm_auto_vm reads the files itself, the role reads them with ``cat`` and the range
planner filters with this same function, so both give one verdict.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

PROC_NET_TCP = ('/proc/net/tcp', '/proc/net/tcp6')
# st column of /proc/net/tcp (include/net/tcp_states.h: TCP_LISTEN)
LISTEN_STATE = '0A'


def listening_tcp_ports(proc_net_text):
    """Set of the local ports in state LISTEN in ``proc_net_text`` (one or both files, headers included)."""
    ports = set()
    for line in proc_net_text.splitlines():
        fields = line.split()
        # sl local_address rem_address st ...; local_address is HEXADDR:HEXPORT (v4 or v6)
        if len(fields) < 4 or not fields[0].endswith(':') or fields[3].upper() != LISTEN_STATE:
            continue
        address, sep, port = fields[1].rpartition(':')
        if sep and address:
            ports.add(int(port, 16))
    return ports


def read_listening_tcp_ports(paths=PROC_NET_TCP):
    """The ports this host listens on; a missing file (no IPv6) counts as empty."""
    text = []
    for path in paths:
        try:
            with open(path) as handle:
                text.append(handle.read())
        except (IOError, OSError):
            continue
    return listening_tcp_ports('\n'.join(text))
