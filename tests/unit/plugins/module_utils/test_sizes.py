# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import MAX_SIZE, format_size, parse_size


@pytest.mark.parametrize('text, num_bytes', [
    ('20G', 20 * 1024 ** 3),
    ('512M', 512 * 1024 ** 2),
    ('1048576K', 1024 ** 3),
    ('1T', 1024 ** 4),
    (' 6G ', 6 * 1024 ** 3),
    ('2048T', 2048 * 1024 ** 4),
    ('2147483648M', MAX_SIZE),
])
def test_parse_size(text, num_bytes):
    assert parse_size(text) == num_bytes


@pytest.mark.parametrize('text', ['20', '20g', '20GB', '0G', '-1G', '1.5G', 'G', '', None, '20 G', '020G'])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match='is not a size such as 20G'):
        parse_size(text)


@pytest.mark.parametrize('text', ['2049T', '2147483649M', '999999999T', '9' * 5000 + 'K'])
def test_parse_size_refuses_more_than_qcow2_holds(text):
    with pytest.raises(ValueError, match=r"^'%s' is larger than 2048T, the largest disk a qcow2 image holds$" % text):
        parse_size(text)


@pytest.mark.parametrize('num_bytes, text', [
    (6 * 1024 ** 3, '6G'),
    (1536 * 1024 ** 2, '1536M'),
    (1024 ** 4, '1T'),
    (1024, '1K'),
    (1000, '1000B'),
])
def test_format_size(num_bytes, text):
    assert format_size(num_bytes) == text
    if text.endswith('B'):
        return
    assert parse_size(text) == num_bytes
