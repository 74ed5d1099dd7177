# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the pip bootstrap script that ansible-test downloads into its cache.

ansible-test fetches get-pip.py from a host that offline machines cannot reach. It runs the
cached script as ``python get_pip.py [pip options] PACKAGES [--no-setuptools] [--no-wheel]``
inside a fresh virtual environment made without pip. This does the same with what the
interpreter already carries: ensurepip installs its bundled pip, which then installs the
requested packages from the configured package index.
"""

from __future__ import annotations

import subprocess
import sys

BOOTSTRAP_ONLY = ('--no-setuptools', '--no-wheel')


def main() -> None:
    args = [arg for arg in sys.argv[1:] if arg not in BOOTSTRAP_ONLY]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)


if __name__ == '__main__':
    main()
