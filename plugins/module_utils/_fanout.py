# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Who sends which image to whom, round by round, so that N hosts get an image in about log2(N)+1 link-times.

A round is one link-time: every node takes part in at most one transfer in it (sending or
receiving). The source (the controller) holds every image. With fan-out, every node that holds an
image serves it too, so the holders of one image double each round; without it, the source sends
alone, one image to one node per round, as a plain push would.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SOURCE = 'controller'


def rounds(needs, holders=None, fanout=True, source=SOURCE):
    """The transfers that satisfy ``needs``: a list of rounds, each a list of (item, sender, receiver).

    ``needs``: (item, node) pairs, in the order to serve them; ``holders``: item -> the nodes that
    hold it already (they need nothing, and serve it with fan-out). The nodes serve first, in the
    order they came to hold something, and the source last: its link is kept for what only it has.
    """
    have = dict((item, list(nodes)) for item, nodes in (holders or {}).items())
    pending = []
    for item, node in needs:
        if node != source and node not in have.get(item, ()) and (item, node) not in pending:
            pending.append((item, node))
    servers = []
    if fanout:
        for nodes in have.values():
            servers.extend(n for n in nodes if n not in servers)
    schedule = []
    while pending:
        busy = set()
        this_round = []
        for sender in servers + [source]:
            if sender in busy:
                continue
            need = next(((item, node) for item, node in pending
                         if node not in busy and (sender == source or sender in have.get(item, ()))), None)
            if need:
                pending.remove(need)
                this_round.append((need[0], sender, need[1]))
                busy.update((sender, need[1]))
        for item, sender, node in this_round:
            have.setdefault(item, []).append(node)
            if fanout and node not in servers:
                servers.append(node)
        schedule.append(this_round)
    return schedule
