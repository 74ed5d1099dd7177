# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""SHA-512 crypt against its specification's vectors and openssl; the passwords and salts made."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import shutil
import subprocess

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._password_hash import (
    PASSWORD_ALPHABET, is_salt, new_password, new_salt, sha512_crypt)

# The SHA-512 test vectors of Drepper's "Unix crypt using SHA-256 and SHA-512": (salt, rounds, key, hash).
SPEC_VECTORS = [
    ('saltstring', None, 'Hello world!',
     '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'),
    ('saltstringsaltstring', 10000, 'Hello world!',
     '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/'
     'y3RnOaw5v.'),
    ('toolongsaltstring', 5000, 'This is just a test',
     '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8'
     'audkUEm0'),
    ('anotherlongsaltstring', 1400,
     'a very much longer text to encrypt.  This one even stretches over morethan one line.',
     '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwG'
     'qd8p4ur1'),
    ('short', 77777, 'we have a short salt string but not a short password',
     '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'),
    ('asaltof16chars..', 123456, 'a short string',
     '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgE'
     'JAstJeonj1'),
    ('roundstoolow', 10, 'the minimum number is still observed',
     '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHH'
     'rsX.'),
]

HASH_RE = re.compile(r'^\$6\$(rounds=[0-9]+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$')


@pytest.mark.parametrize('salt, rounds, key, expected', SPEC_VECTORS)
def test_specification_vectors(salt, rounds, key, expected):
    assert sha512_crypt(key, salt, rounds=rounds) == expected


OPENSSL_CASES = [
    ('Hello world!', 'saltstring', None),
    ('x', 'a', None),
    ('p' * 64, 'saltsaltsaltsalt', None),   # key as long as a digest
    ('q' * 200, './09AZaz', None),         # key longer than three digests
    ('pässwörd €', 'Xy', None),             # UTF-8 bytes
    ('Hello world!', 'saltstringsaltstring', 2500),
]


@pytest.mark.parametrize('password, salt, rounds', OPENSSL_CASES)
def test_matches_openssl(password, salt, rounds):
    openssl = shutil.which('openssl')
    assert openssl, 'openssl is needed to compare the hashes with'
    salt_arg = salt if rounds is None else 'rounds=%d$%s' % (rounds, salt)
    # The password goes to openssl on stdin, as anything else would.
    done = subprocess.run([openssl, 'passwd', '-6', '-salt', salt_arg, '-stdin'], input=password.encode('utf-8'),
                          stdout=subprocess.PIPE, check=True)
    assert sha512_crypt(password, salt, rounds=rounds) == done.stdout.decode('ascii').strip()


@pytest.mark.parametrize('password', ['', 'a', new_password(16)])
def test_hash_shape(password):
    assert HASH_RE.match(sha512_crypt(password, new_salt()))


@pytest.mark.parametrize('length', [10, 16, 128])
def test_new_password(length):
    password = new_password(length)
    assert len(password) == length
    assert set(password) <= set(PASSWORD_ALPHABET)


def test_password_alphabet_has_no_look_alikes():
    assert not set('0Oo1lI') & set(PASSWORD_ALPHABET)
    assert len(set(PASSWORD_ALPHABET)) == len(PASSWORD_ALPHABET) == 56


def test_passwords_and_salts_are_random():
    assert len(set(new_password(16) for dummy in range(50))) == 50
    assert len(set(new_salt() for dummy in range(50))) == 50


@pytest.mark.parametrize('salt, valid', [
    (new_salt(), True), ('a', True), ('./09AZaz', True), ('', False), ('a' * 17, False), ('a$b', False),
    ('salt salt', False), ('sälz', False),
])
def test_is_salt(salt, valid):
    assert is_salt(salt) is valid
