#!/bin/sh
# check_password.sh HASH < PASSWORD: succeed when PASSWORD matches the crypt(3) HASH of /etc/shadow.
# The password is read from stdin and handed on through pipes, never on a command line.
set -eu
hash=$1
IFS= read -r password
# The patterns are literal crypt(3) prefixes, not expansions.
# shellcheck disable=SC2016
case $hash in
    '$1$'* | '$5$'* | '$6$'*)
        method=$(printf '%s' "$hash" | cut -d'$' -f2)
        salt=$(printf '%s' "$hash" | cut -d'$' -f3)
        computed=$(printf '%s\n' "$password" | openssl passwd "-$method" -salt "$salt" -stdin)
        ;;
    *)
        # yescrypt ($y$) and others: libcrypt through perl's crypt().
        computed=$(printf '%s\n' "$password" | perl -e 'chomp(my $p = <STDIN>); print crypt($p, $ARGV[0])' "$hash")
        ;;
esac
[ "$computed" = "$hash" ]
