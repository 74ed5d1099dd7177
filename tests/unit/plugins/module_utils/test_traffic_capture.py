# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capture files of emulate_traffic_capture_file: the same task of the same clone gives the same
bytes; the noise grows with its level; the attack is SSH from attack_source to the guest."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP
from scapy.utils import rdpcap

from ansible_collections.cyris.kvm_auto.plugins.module_utils._traffic_capture import (
    ATTACK_CONNECTIONS, DEFAULT_ATTACK_SOURCE, EPOCH, NOISE_EXCHANGES, SPAN, capture_file, capture_packets)

SPEC = {'seed': '77/srv_cr77_1_1/guest_settings[1] (id=srv).tasks[4].emulate_traffic_capture_file[0]',
        'noise_level': 'medium', 'attack_type': 'ssh_attack', 'attack_source': '69.89.31.226',
        'guest_address': '77.1.2.2', 'guest_mac': '52:54:4d:01:02:02', 'gateway': '77.1.2.3'}


def _ends(frame):
    """The two (address, port) ends of an IP frame (port None without TCP)."""
    port = (frame[TCP].sport, frame[TCP].dport) if TCP in frame else (None, None)
    return set([(frame[IP].src, port[0]), (frame[IP].dst, port[1])])


def test_the_same_task_of_the_same_clone_gives_the_same_bytes():
    assert capture_file(SPEC) == capture_file(dict(SPEC))


@pytest.mark.parametrize('change', [{'seed': SPEC['seed'].replace('srv_cr77_1_1', 'srv_cr77_2_1')},
                                    {'attack_source': '69.89.31.227'}, {'noise_level': 'low'}])
def test_another_clone_or_task_gives_another_file(change):
    assert capture_file(dict(SPEC, **change)) != capture_file(SPEC)


def test_the_file_is_a_pcap_of_every_packet_in_time_order():
    packets = capture_packets(SPEC)
    read = rdpcap(io.BytesIO(capture_file(SPEC)))
    assert len(read) == len(packets)
    times = [float(frame.time) for frame in read]
    assert times == sorted(times) and EPOCH <= times[0] and times[-1] < EPOCH + SPAN + 60
    assert bytes(read[0]) == bytes(packets[0][1])


def test_the_noise_grows_with_its_level():
    noise = dict((level, sum(1 for kind, _frame in capture_packets(dict(SPEC, noise_level=level)) if kind == 'noise'))
                 for level in NOISE_EXCHANGES)
    assert noise['low'] < noise['medium'] < noise['high']
    # Each exchange has at least two packets (a question and its answer).
    assert all(noise[level] >= 2 * NOISE_EXCHANGES[level] for level in NOISE_EXCHANGES)


@pytest.mark.parametrize('source', ['69.89.31.226', None])
def test_the_attack_is_ssh_from_its_source_to_the_guest(source):
    packets = capture_packets(dict(SPEC, attack_source=source))
    attack = [frame for kind, frame in packets if kind == 'attack']
    wanted = source or DEFAULT_ATTACK_SOURCE
    assert attack and all(_ends(frame) & set([('77.1.2.2', 22)]) and wanted in (frame[IP].src, frame[IP].dst)
                          for frame in attack)
    assert len([f for f in attack if f[TCP].flags == 'S' and f[IP].src == wanted]) == ATTACK_CONNECTIONS
    assert len([f for f in attack if f[TCP].flags == 'R' and f[IP].src == '77.1.2.2']) == ATTACK_CONNECTIONS
    assert sum(1 for f in attack if bytes(f[TCP].payload).startswith(b'SSH-2.0-')) == 2 * ATTACK_CONNECTIONS


def test_the_noise_is_never_ssh_nor_from_the_attacker():
    noise = [frame for kind, frame in capture_packets(SPEC) if kind == 'noise']
    assert any(ARP in frame for frame in noise)
    for frame in noise:
        if IP in frame:
            assert SPEC['attack_source'] not in (frame[IP].src, frame[IP].dst)
            assert '77.1.2.2' in (frame[IP].src, frame[IP].dst)
        if TCP in frame:
            assert 22 not in (frame[TCP].sport, frame[TCP].dport)
