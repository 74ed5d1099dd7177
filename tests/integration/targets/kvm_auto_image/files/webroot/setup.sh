#!/usr/bin/env bash
# Run by execute_program at build time: records its arguments, one per line.
printf '%s\n' "$@" > /opt/range/ran.txt
