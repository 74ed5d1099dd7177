# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The traffic capture file of an emulate_traffic_capture_file task, made with scapy on the controller.

The file is what a capture on the guest's interface would hold: ordinary traffic (the noise) and,
among it, an SSH dictionary attack from ``attack_source``.  Everything comes from a random
generator seeded with the task's ``seed`` (the range id, the clone and the task's place), and
every time is a fixed epoch plus an offset, so the same task of the same clone always gives the
same bytes: a rerun writes nothing new, and two clones get different files.

* noise: DNS lookups (query and answer, to the gateway), HTTP fetches (a whole TCP
  connection to a web server), pings and ARP exchanges with neighbours of the guest's subnet;
  ``NOISE_EXCHANGES`` says how many of them each noise level has;
* attack (``ssh_attack``): ``ATTACK_CONNECTIONS`` connections from ``attack_source`` to port 22 of
  the guest, each a TCP handshake, the two SSH banners, the client's key exchange start and a
  reset from the server (the login failed), a second or two apart.

scapy is imported when a file is made, not when this file is: most runs of the range role make none.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import io
import ipaddress
import random

# Exchanges of ordinary traffic per noise level (CyRIS's words: its noise_low/medium/high.pcap).
NOISE_EXCHANGES = {'low': 20, 'medium': 60, 'high': 180}
ATTACK_CONNECTIONS = 12
SSH_PORT = 22
# 2023-11-14 22:13:20 UTC: the first packet's time; the rest are offsets from it.
EPOCH = 1700000000
# The seconds the noise spreads over; the attack starts in the middle third.
SPAN = 600
# The attack from outside the range when the task gives no attack_source (TEST-NET-2).
DEFAULT_ATTACK_SOURCE = '198.51.100.66'
# Web servers and names of the noise (TEST-NET-3, example domains).
_WEB_SERVERS = [('www.example.com', '203.0.113.10'), ('www.example.org', '203.0.113.20'),
                ('news.example.net', '203.0.113.30'), ('cdn.example.com', '203.0.113.40')]
_CLIENT_BANNERS = (b'SSH-2.0-libssh_0.9.6\r\n', b'SSH-2.0-paramiko_2.12.0\r\n', b'SSH-2.0-Go\r\n')
_SERVER_BANNER = b'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'


def scapy_missing():
    """Whether scapy cannot be imported here (a cheap look, without importing it)."""
    return importlib.util.find_spec('scapy') is None


def _scapy():
    """The scapy classes this file uses, imported on first use."""
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP, Ether
    from scapy.packet import Raw
    from scapy.utils import PcapWriter
    return dict(DNS=DNS, DNSQR=DNSQR, DNSRR=DNSRR, ICMP=ICMP, IP=IP, TCP=TCP, UDP=UDP, ARP=ARP, Ether=Ether, Raw=Raw,
                PcapWriter=PcapWriter)


def _mac(rng):
    return '52:54:00:%02x:%02x:%02x' % (rng.randrange(256), rng.randrange(256), rng.randrange(256))


class _Trace:
    """Packets with their times, and the TCP and IP counters of the hosts that send them."""

    def __init__(self, spec, rng, s):
        self.s = s
        self.rng = rng
        self.packets = []
        self.guest = spec['guest_address']
        self.guest_mac = spec['guest_mac']
        network = ipaddress.IPv4Network('%s/24' % self.guest, strict=False)
        self.gateway = spec.get('gateway') or '%s' % (network.network_address + 1)
        self.gateway_mac = _mac(rng)
        hosts = [h for h in ('%s' % a for a in network.hosts()) if h not in (self.guest, self.gateway)]
        self.neighbours = [(address, _mac(rng)) for address in rng.sample(hosts, 4)]
        self.ip_id = dict()

    def add(self, when, frame, kind):
        frame.time = EPOCH + round(when, 6)
        self.packets.append((when, len(self.packets), kind, frame))

    def ip(self, src, dst, **fields):
        self.ip_id[src] = (self.ip_id.get(src, self.rng.randrange(1, 30000)) + 1) % 65536
        return self.s['IP'](src=src, dst=dst, id=self.ip_id[src], ttl=64 if src == self.guest else 55, **fields)

    def ether(self, src_ip):
        """Ethernet header of a frame on the guest's link: from the gateway unless the guest sends it."""
        if src_ip == self.guest:
            return self.s['Ether'](src=self.guest_mac, dst=self.gateway_mac)
        return self.s['Ether'](src=self.gateway_mac, dst=self.guest_mac)

    def tcp_session(self, when, client, server, dport, payloads, end, kind):
        """A TCP connection: handshake, ``payloads`` [(from_client, bytes)], then ``end`` ('fin' or 'rst')."""
        s, rng = self.s, self.rng
        sport = rng.randrange(32768, 61000)
        seq = {client: rng.randrange(2 ** 32), server: rng.randrange(2 ** 32)}
        peer = {client: server, server: client}
        ports = {client: (sport, dport), server: (dport, sport)}

        def segment(src, flags, data=b''):
            a, b = ports[src]
            frame = self.ether(src) / self.ip(src, peer[src]) / s['TCP'](
                sport=a, dport=b, flags=flags, seq=seq[src], ack=0 if flags == 'S' else seq[peer[src]],
                window=64240 if src == client else 65160)
            if data:
                frame = frame / s['Raw'](load=data)
            seq[src] = (seq[src] + len(data) + (1 if flags in ('S', 'SA', 'FA') else 0)) % 2 ** 32
            self.add(when, frame, kind)

        segment(client, 'S')
        when += rng.uniform(0.0002, 0.004)
        segment(server, 'SA')
        when += rng.uniform(0.0001, 0.002)
        segment(client, 'A')
        for from_client, data in payloads:
            when += rng.uniform(0.001, 0.05)
            segment(client if from_client else server, 'PA', data)
        when += rng.uniform(0.001, 0.2)
        if end == 'rst':
            segment(server, 'R')
            return when
        segment(client, 'FA')
        when += rng.uniform(0.0002, 0.004)
        segment(server, 'FA')
        when += rng.uniform(0.0001, 0.002)
        segment(client, 'A')
        return when


def _dns(trace, when):
    s, rng = trace.s, trace.rng
    name, address = rng.choice(_WEB_SERVERS)
    qid = rng.randrange(65536)
    sport = rng.randrange(32768, 61000)
    query = s['DNS'](id=qid, rd=1, qd=s['DNSQR'](qname=name))
    trace.add(when, trace.ether(trace.guest) / trace.ip(trace.guest, trace.gateway) / s['UDP'](sport=sport, dport=53)
              / query, 'noise')
    answer = s['DNS'](id=qid, qr=1, rd=1, ra=1, qd=s['DNSQR'](qname=name),
                      an=s['DNSRR'](rrname=name, type='A', ttl=rng.randrange(60, 3600), rdata=address))
    trace.add(when + rng.uniform(0.002, 0.04), trace.ether(trace.gateway) / trace.ip(trace.gateway, trace.guest)
              / s['UDP'](sport=53, dport=sport) / answer, 'noise')


def _http(trace, when):
    rng = trace.rng
    name, address = rng.choice(_WEB_SERVERS)
    path = rng.choice(('/', '/index.html', '/news', '/images/logo.png', '/api/status'))
    request = ('GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Wget/1.21.3\r\nAccept: */*\r\n\r\n' % (path, name)).encode()
    body = bytes(rng.randrange(32, 127) for _byte in range(rng.randrange(64, 600)))
    response = ('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n' % len(body)).encode() + body
    trace.tcp_session(when, trace.guest, address, 80, [(True, request), (False, response)], 'fin', 'noise')


def _ping(trace, when):
    s, rng = trace.s, trace.rng
    address, mac = rng.choice(trace.neighbours)
    ident = rng.randrange(65536)
    for number in range(1, rng.randrange(2, 5)):
        payload = bytes(range(8, 56))
        trace.add(when, s['Ether'](src=trace.guest_mac, dst=mac) / trace.ip(trace.guest, address)
                  / s['ICMP'](type=8, id=ident, seq=number) / s['Raw'](load=payload), 'noise')
        trace.add(when + rng.uniform(0.0003, 0.003), s['Ether'](src=mac, dst=trace.guest_mac)
                  / trace.ip(address, trace.guest) / s['ICMP'](type=0, id=ident, seq=number) / s['Raw'](load=payload),
                  'noise')
        when += 1.0


def _arp(trace, when):
    s, rng = trace.s, trace.rng
    address, mac = rng.choice(trace.neighbours)
    trace.add(when, s['Ether'](src=trace.guest_mac, dst='ff:ff:ff:ff:ff:ff')
              / s['ARP'](op=1, hwsrc=trace.guest_mac, psrc=trace.guest, hwdst='00:00:00:00:00:00', pdst=address), 'noise')
    trace.add(when + rng.uniform(0.0001, 0.002), s['Ether'](src=mac, dst=trace.guest_mac)
              / s['ARP'](op=2, hwsrc=mac, psrc=address, hwdst=trace.guest_mac, pdst=trace.guest), 'noise')


_NOISE = ((_dns, 4), (_http, 3), (_ping, 2), (_arp, 1))


def _ssh_attack(trace, when, source):
    rng = trace.rng
    for _attempt in range(ATTACK_CONNECTIONS):
        kexinit = b'\x00\x00\x05\xdc\x08\x14' + bytes(rng.randrange(256) for _byte in range(rng.randrange(200, 400)))
        payloads = [(True, rng.choice(_CLIENT_BANNERS)), (False, _SERVER_BANNER), (True, kexinit)]
        when = trace.tcp_session(when, source, trace.guest, SSH_PORT, payloads, 'rst', 'attack')
        when += rng.uniform(0.8, 2.5)


def capture_packets(spec):
    """The packets of the capture of ``spec``, in time order: [(kind, frame)], kind 'noise' or 'attack'.

    ``spec``: {seed, noise_level, attack_type, attack_source (None: DEFAULT_ATTACK_SOURCE),
    guest_address, guest_mac, gateway (None: the .1 of the guest's /24)}.
    """
    s = _scapy()
    rng = random.Random(spec['seed'])
    trace = _Trace(spec, rng, s)
    kinds = [kind for kind, weight in _NOISE for _copy in range(weight)]
    for _exchange in range(NOISE_EXCHANGES[spec['noise_level']]):
        rng.choice(kinds)(trace, rng.uniform(0, SPAN))
    if spec['attack_type'] == 'ssh_attack':
        _ssh_attack(trace, rng.uniform(SPAN / 3.0, SPAN * 2 / 3.0), spec.get('attack_source') or DEFAULT_ATTACK_SOURCE)
    return [(kind, frame) for _when, _order, kind, frame in sorted(trace.packets, key=lambda p: (p[0], p[1]))]


def capture_file(spec):
    """The bytes of the pcap file of ``spec`` (see capture_packets)."""
    buffer = io.BytesIO()
    writer = _scapy()['PcapWriter'](buffer, linktype=1, sync=True)
    for _kind, frame in capture_packets(spec):
        writer.write(frame)
    writer.flush()
    return buffer.getvalue()
