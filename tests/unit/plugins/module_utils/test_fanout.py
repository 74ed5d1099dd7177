# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._fanout import SOURCE, rounds


def check_valid(schedule, needs, holders, fanout):
    """Every need is met once, by a sender holding the item, each node in one transfer per round."""
    have = dict((item, set(nodes) | {SOURCE}) for item, nodes in holders.items())
    met = []
    for this_round in schedule:
        assert this_round, 'an empty round'
        busy = [node for transfer in this_round for node in transfer[1:]]
        assert len(busy) == len(set(busy)), 'a node in two transfers of one round: %r' % (this_round,)
        for item, sender, receiver in this_round:
            assert sender in have.setdefault(item, {SOURCE})
            assert receiver not in have[item]
            if not fanout:
                assert sender == SOURCE
        for item, sender, receiver in this_round:
            have[item].add(receiver)
            met.append((item, receiver))
    assert sorted(met) == sorted(set((i, n) for i, n in needs if n != SOURCE and n not in holders.get(i, ())))


@pytest.mark.parametrize('pre_holders', [0, 1, 2, 3])
@pytest.mark.parametrize('count', range(1, 21))
def test_fanout_doubles_the_holders_each_round(count, pre_holders):
    held = ['held%d' % i for i in range(pre_holders)]
    needs = [('img', 'host%d' % i) for i in range(count)] + [('img', h) for h in held]
    holders = {'img': held}
    schedule = rounds(needs, holders, fanout=True)
    check_valid(schedule, needs, holders, True)
    # 1 + pre_holders holders at first, twice as many after each round.
    assert len(schedule) == int(math.ceil(math.log2((1.0 + pre_holders + count) / (1 + pre_holders)) - 1e-9))


@pytest.mark.parametrize('pre_holders', [0, 2])
@pytest.mark.parametrize('count', range(1, 21))
def test_without_fanout_the_controller_sends_alone(count, pre_holders):
    held = ['held%d' % i for i in range(pre_holders)]
    needs = [('img', 'host%d' % i) for i in range(count)]
    holders = {'img': held}
    schedule = rounds(needs, holders, fanout=False)
    check_valid(schedule, needs, holders, False)
    assert schedule == [[('img', SOURCE, 'host%d' % i)] for i in range(count)]


@pytest.mark.parametrize('needs, holders, expected', [
    # Nothing to do.
    ([], {}, []),
    ([('img', 'a')], {'img': ['a']}, []),
    # The first receiver serves the next round; the source sends to the one left.
    ([('img', 'a'), ('img', 'b'), ('img', 'c')], {},
     [[('img', SOURCE, 'a')], [('img', 'a', 'b'), ('img', SOURCE, 'c')]]),
    # A host holding the image serves from the first round, before the source.
    ([('img', 'a'), ('img', 'b'), ('img', 'c')], {'img': ['h']},
     [[('img', 'h', 'a'), ('img', SOURCE, 'b')], [('img', 'h', 'c')]]),
    # Two images, as in the range e2e: a gets img1, then serves it to b while b cannot also
    # receive img2 from the source; img2 comes last.
    ([('img1', 'a'), ('img1', 'b'), ('img2', 'b')], {},
     [[('img1', SOURCE, 'a')], [('img1', 'a', 'b')], [('img2', SOURCE, 'b')]]),
    # A need named twice is met once; the source is never a receiver.
    ([('img', 'a'), ('img', 'a'), ('img', SOURCE)], {}, [[('img', SOURCE, 'a')]]),
])
def test_who_sends_what_to_whom(needs, holders, expected):
    assert rounds(needs, holders) == expected
    check_valid(expected, needs, holders, True)


def test_eight_hosts_take_four_link_times_not_eight():
    needs = [('img', 'host%d' % i) for i in range(8)]
    assert len(rounds(needs)) == 4
    assert len(rounds(needs, fanout=False)) == 8
