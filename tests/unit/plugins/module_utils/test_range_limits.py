# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Limits on a range description: size once aliases are expanded, depth, text length, numbers
and words that reach a command line."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import (
    MAX_DEPTH, MAX_VALUES, Checker, RangeError, plain)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_clones import check_clone_settings, check_range_id
from ansible_collections.cyris.kvm_auto.plugins.module_utils import _range_read
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_hosts import check_hosts, is_host_address
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_read import MAX_TEXT_LENGTH, load_range

TOO_MANY = 'the range description holds more than %d values once YAML aliases and shared references are expanded' % MAX_VALUES
TOO_DEEP = 'the range description nests more than %d levels deep once YAML aliases and shared references are expanded' % MAX_DEPTH


def alias_bomb(levels, fan_out=10):
    """YAML text of a few hundred bytes that expands to fan_out ** levels values."""
    lines = ['a0: &a0 [%s]' % ', '.join(['x'] * fan_out)]
    for level in range(1, levels + 1):
        lines.append('a%d: &a%d [%s]' % (level, level, ', '.join(['*a%d' % (level - 1)] * fan_out)))
    return '\n'.join(lines) + '\n'


def refused(data):
    with pytest.raises(RangeError) as caught:
        load_range(data)
    assert len(caught.value.errors) == 1
    return caught.value.errors[0]


# ---------------------------------------------------------------- reading

LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, 'CSafeLoader') else [])


@pytest.fixture(params=LOADERS, ids=[loader.__name__ for loader in LOADERS])
def yaml_loader(request, monkeypatch):
    """Run a test with libyaml's loader and with the pure Python one it falls back to."""
    monkeypatch.setattr(_range_read, '_yaml_loader', lambda: request.param)


@pytest.mark.usefixtures('yaml_loader')
@pytest.mark.parametrize('data', [
    'guest_settings: [{id: a, vcpus: 1}]\n',
    b'guest_settings: [{id: a, vcpus: 1}]\n',
    {'guest_settings': [{'id': 'a', 'vcpus': 1}]},
])
def test_load_range_reads_text_bytes_and_data(data):
    assert load_range(data) == {'guest_settings': [{'id': 'a', 'vcpus': 1}]}


@pytest.mark.usefixtures('yaml_loader')
def test_a_few_aliases_are_expanded_into_plain_copies():
    value = load_range('base: &b {vcpus: 1}\nguests: [*b, *b]\n')
    assert value == {'base': {'vcpus': 1}, 'guests': [{'vcpus': 1}, {'vcpus': 1}]}
    assert value['guests'][0] is not value['guests'][1]


@pytest.mark.usefixtures('yaml_loader')
def test_yaml_errors_name_line_and_column():
    message = refused('guest_settings:\n  - id: a\n   bad: [\n')
    assert message.startswith('the range description is not valid YAML at line 3 column ')


@pytest.mark.parametrize('text', [
    '!!python/object/apply:os.system [echo hi]\n',
    '!!python/name:os.system\n',
])
@pytest.mark.usefixtures('yaml_loader')
def test_only_safe_yaml_is_read(text):
    assert 'could not determine a constructor' in refused(text)


@pytest.mark.usefixtures('yaml_loader')
def test_bytes_that_are_not_utf8_are_refused():
    assert refused(b'id: \xff\n') == 'the range description is not UTF-8 text (byte 4)'


@pytest.mark.usefixtures('yaml_loader')
@pytest.mark.parametrize('text, unit', [('x' * (MAX_TEXT_LENGTH + 1), 'characters'), (b'x' * (MAX_TEXT_LENGTH + 1), 'bytes')])
def test_text_longer_than_the_limit_is_refused_before_parsing(text, unit):
    assert refused(text) == 'the range description is %d %s long; at most %d are read' % (
        MAX_TEXT_LENGTH + 1, unit, MAX_TEXT_LENGTH)


@pytest.mark.usefixtures('yaml_loader')
def test_an_integer_of_thousands_of_digits_is_refused():
    assert refused('range_id: %s\n' % ('9' * 5000)).startswith('the range description is not valid YAML: ')


# ---------------------------------------------------------------- expansion bounds

@pytest.mark.usefixtures('yaml_loader')
def test_alias_bomb_in_text_is_refused_while_parsing():
    # 10 ** 30 values once expanded: counting the parser's events stops at the limit.
    message = refused(alias_bomb(30))
    assert message.startswith(TOO_MANY + ' (reached at line ')


@pytest.mark.usefixtures('yaml_loader')
def test_alias_bomb_just_within_the_limit_is_read():
    # 10 + 100 + 1000 + 10000 leaves and lists, with the mapping around them.
    value = load_range(alias_bomb(3))
    assert len(value['a3']) == 10 and value['a3'][9][9][9] == ['x'] * 10


def test_shared_references_in_parsed_data_are_counted_as_copied():
    bomb = ['x'] * 10
    for _level in range(30):
        bomb = [bomb] * 10
    assert refused({'guest_settings': bomb}) == TOO_MANY
    with pytest.raises(RangeError, match='more than %d values' % MAX_VALUES):
        plain(bomb)


@pytest.mark.usefixtures('yaml_loader')
def test_nesting_deeper_than_the_limit_is_refused():
    assert refused('[' * (MAX_DEPTH + 1) + ']' * (MAX_DEPTH + 1)).startswith(TOO_DEEP + ' (reached at line 1 ')
    assert load_range('[' * MAX_DEPTH + ']' * MAX_DEPTH) is not None
    # Ten thousand levels would exhaust Python's stack in yaml.safe_load; libyaml refuses
    # them itself while scanning ahead.
    assert 'nest' in refused('[' * 10000 + ']' * 10000)


@pytest.mark.usefixtures('yaml_loader')
def test_depth_reached_through_an_alias_counts():
    inner = '[' * 40 + ']' * 40
    text = 'a: &a %s\nb: %s*a%s\n' % (inner, '[' * 30, ']' * 30)
    assert refused(text).startswith(TOO_DEEP + ' (reached at line 2 ')


@pytest.mark.usefixtures('yaml_loader')
def test_self_referring_yaml_is_refused():
    assert refused('a: &a [x, *a]\n') == ('the range description refers to itself: alias *a at line 1 column 11 '
                                          'is inside the node it names')


def test_self_referring_data_is_refused():
    loop = []
    loop.append(loop)
    assert refused({'guest_settings': loop}) == TOO_DEEP


# ---------------------------------------------------------------- range id

@pytest.mark.parametrize('value, expected', [
    (7, '7'), ('7', '7'), ('007', '007'), (99999999, '99999999'), ('blue-team', 'blue-team'), ('A' * 16, 'A' * 16),
])
def test_range_id_accepted(value, expected):
    chk = Checker()
    assert check_range_id('range_id', value, chk) == expected
    assert chk.errors == []


@pytest.mark.parametrize('value, error', [
    (10 ** 30, 'range_id: %d is out of range: 1 to 99999999' % 10 ** 30),
    ('%d' % 10 ** 30, 'range_id: %d is out of range: 1 to 99999999' % 10 ** 30),
    ('9' * 5000, "range_id: '%s...' is out of range: 1 to 99999999" % ('9' * 197)),
    (100000000, 'range_id: 100000000 is out of range: 1 to 99999999'),
    (0, 'range_id: 0 is out of range: 1 to 99999999'),
    ('0', 'range_id: 0 is out of range: 1 to 99999999'),
    (-3, 'range_id: -3 is out of range: 1 to 99999999'),
    ('-3', "range_id: '-3' is not a range id (a number, or letters, digits and -, at most 16)"),
    ('-v', "range_id: '-v' is not a range id (a number, or letters, digits and -, at most 16)"),
    ('A' * 17, "range_id: '%s' is not a range id (a number, or letters, digits and -, at most 16)" % ('A' * 17)),
    (True, 'range_id: True is not a range id'),
])
def test_range_id_refused(value, error):
    chk = Checker()
    assert check_range_id('range_id', value, chk) is None
    assert chk.errors == [error]


# ---------------------------------------------------------------- host settings

@pytest.mark.parametrize('text', [
    'localhost', 'kvm01.example.org', 'host_1', 'cafe', '192.0.2.5', '::1', '2001:db8::7', 'fe80::1%eth0', 'a' * 63,
])
def test_host_addresses_accepted(text):
    assert is_host_address(text)


@pytest.mark.parametrize('text', [
    '-v', '-oProxyCommand=x', 'local host', '999.1.1.1', '192.0.2', '1.2.3.4.5', 'a..b', '.a', 'a-', '-a.b',
    'a' * 64, 'fe80::1%-v', '2001:db8::7::1', 'host;reboot', '[::1]', '',
])
def test_host_addresses_refused(text):
    assert not is_host_address(text)


@pytest.mark.parametrize('key, value, error', [
    ('mgmt_addr', '-v', "host_settings[0] (id=h).mgmt_addr: '-v' is not a host name or address (IPv4 or IPv6)"),
    ('mgmt_addr', 5, "host_settings[0] (id=h).mgmt_addr: '5' is not a host name or address (IPv4 or IPv6)"),
    ('account', '-oProxyCommand=x', "host_settings[0] (id=h).account: '-oProxyCommand=x' is not a POSIX account name"),
    ('id', '-h', "host_settings[0] (id=-h).id: '-h' is not a host id (letters, digits, _ . -)"),
])
def test_host_words_never_start_with_a_dash(key, value, error):
    host = {'id': 'h', 'mgmt_addr': 'localhost', 'account': 'root'}
    host[key] = value
    chk = Checker()
    assert check_hosts([host], chk) == []
    assert chk.errors == [error]


# ---------------------------------------------------------------- forwarding rules

def rule_errors(rule):
    networks = [{'name': name, 'members': 'g.eth%d' % nic} for nic, name in enumerate(('office', 'servers', 'a', 'b', 'c'))]
    networks.append({'name': 'web', 'members': 'w.eth0'})
    clone_settings = [{'range_id': 5, 'hosts': [{'host_id': 'h', 'instance_number': 1, 'guests': [
        {'guest_id': 'g', 'number': 1, 'forwarding_rules': [{'rule': rule}]}, {'guest_id': 'w', 'number': 1}],
        'topology': [{'type': 'custom', 'networks': networks}]}]}]
    chk = Checker()
    check_clone_settings(clone_settings, ['h'], ['g', 'w'], chk)
    return chk.errors


@pytest.mark.parametrize('rule', ['src=office dst=web.w dport=80', 'src=a,b dst=c sport=1000:2000 dport=22,80,443'])
def test_forwarding_rule_words_accepted(rule):
    assert rule_errors(rule) == []


@pytest.mark.parametrize('rule, error', [
    ('src=office dst=web dport=-v', "dport '-v' is not a port, a range such as 1000:2000 or a comma list of them "
     "(at most 15 ports, a range counting as two)"),
    ('src=office dst=web dport=70000', "dport '70000' is not a port, a range such as 1000:2000 or a comma list of them "
     "(at most 15 ports, a range counting as two)"),
    ('src=office dst=web sport=0', "sport '0' is not a port, a range such as 1000:2000 or a comma list of them "
     "(at most 15 ports, a range counting as two)"),
    ('src=-j dst=web', "src '-j' is not a network, network.guest or a comma list of them"),
    ('src=office dst=web.-x', "dst 'web.-x' is not a network, network.guest or a comma list of them"),
])
def test_forwarding_rule_words_never_start_with_a_dash(rule, error):
    assert rule_errors(rule) == ['clone_settings[0] (range_id=5).hosts[0].guests[0].forwarding_rules[0].rule: ' + error]
