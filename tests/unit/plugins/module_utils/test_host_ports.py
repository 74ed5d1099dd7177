# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_ports import (
    listening_tcp_ports, read_listening_tcp_ports)

TCP = '''\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20521 1 0000000000000000 100 0 0 10 0
   1: 0100007F:EA5F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20600 1 0000000000000000 100 0 0 10 0
   2: 0A00020F:0016 0A000202:D2A4 01 00000000:00000000 02:000A7C5C 00000000     0        0 31337 2 0000000000000000 20 4 29 10 -1
'''
TCP6 = '''\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when
   0: 00000000000000000000000000000000:EA61 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000
   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:C350 06 00000000:00000000 03:00000F2E
'''


@pytest.mark.parametrize('text, expected', [
    (TCP, {22, 59999}),
    (TCP6, {60001}),
    # what the role's `cat /proc/net/tcp /proc/net/tcp6` gives: both headers
    (TCP + TCP6, {22, 59999, 60001}),
    ('', set()),
    # an established connection's local port, a TIME_WAIT in tcp6: not listening
    (TCP.splitlines()[0] + '\n' + TCP.splitlines()[3], set()),
])
def test_listening_tcp_ports(text, expected):
    assert listening_tcp_ports(text) == expected


def test_read_listening_tcp_ports_skips_a_missing_file(tmp_path):
    present = tmp_path / 'tcp'
    present.write_text(TCP)
    assert read_listening_tcp_ports((str(present), str(tmp_path / 'tcp6'))) == {22, 59999}
