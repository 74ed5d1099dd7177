#!/bin/sh
# sample_cmdlines.sh OUT STOP: append every process's command line to OUT, five times a second,
# until the file STOP exists. One cat per sample keeps the sampler light on a busy machine.
out=$1
stop=$2
while [ ! -e "$stop" ]; do
    cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' >> "$out"
    sleep 0.2
done
