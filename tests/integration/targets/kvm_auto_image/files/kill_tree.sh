#!/bin/sh
# kill_tree.sh PID [COMMAND]: SIGKILL every process group found in the process tree of PID, at once,
# and print the groups (comma-separated). With COMMAND, first require a process of that name in
# the tree (proof that the kill lands mid-build). ansible-playbook runs each task in a worker with
# a session of its own, so the groups are collected from the tree, not from PID's session.
set -eu
root=$1
tree() {
    echo "$1"
    for child in $(ps -o pid= --ppid "$1"); do
        tree "$child"
    done
}
pids=$(tree "$root" | tr '\n' ',' | sed 's/,$//')
if [ -n "${2:-}" ] && ! ps -o comm= -p "$pids" | grep -qx "$2"; then
    echo "no $2 process under $root" >&2
    exit 3
fi
groups=$(ps -o pgid= -p "$pids" | sort -un)
args=
for group in $groups; do
    args="$args -$group"
done
# dash's kill takes no "--"; negative numbers after the signal are process groups.
# shellcheck disable=SC2086  # one argument per group
[ -z "$args" ] || kill -KILL $args
# shellcheck disable=SC2086  # joins the groups on one line
echo $groups | tr ' ' ','
