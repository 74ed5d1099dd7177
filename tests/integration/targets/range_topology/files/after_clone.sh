#!/bin/sh
# An after_clone program of the topology test: it records, once per run, which clone ran it and
# with which arguments; the test counts the lines.
set -eu
echo "$(hostname) $*" >> /var/lib/range-after-clone.log
