# Run by /bin/sh (dash) emulated and native in tests/accel_identity.rs: the output of
# both must be identical. Nothing here depends on time, pids or the machine's load.

echo "== here-documents"
name=world
cat <<EOF
hello $name, $(echo substituted), \$name kept, `echo backticks`
  indented $((6 * 7))
EOF
cat <<'EOF'
quoted: $name $(not run) `neither`
EOF
cat <<-EOF
	tabs stripped: $name
	EOF
while read -r a b; do echo "read [$a] [$b]"; done <<EOF
one two three
  four
EOF

echo "== arithmetic"
x=5
echo $((x * 3 + 1)) $((x << 40)) $((-7 / 2)) $((-7 % 3)) $((0x1f + 010)) $((x > 3 ? 10 : 20))
echo $((x += 3)) $x $((x -= 1)) $x $((!0)) $((~5)) $((5 & 3 | 8 ^ 2))
echo $((9223372036854775807)) $((-9223372036854775807 - 1)) $((1 << 62))
i=0 sum=0
while [ $i -lt 50 ]; do sum=$((sum + i * i)); i=$((i + 1)); done
echo "sum $sum"
(echo $((1 / 0))) 2>&1 || echo "division by zero status $?"

echo "== set -e"
(set -e; false; echo "not reached"); echo "subshell status $?"
(set -e; false || true; if false; then :; fi; ! true; echo "still running")
(set -e; f() { false; echo "in f after false"; }; f; echo "after f") ; echo "status $?"
(set -eu; echo "${unset_variable:-default}"; echo "$unset_variable") 2>&1; echo "set -u status $?"

echo "== traps"
(trap 'echo "exit trap, status $?"' EXIT; false)
sh -c 'trap "echo got USR1" USR1; kill -USR1 $$; echo "after USR1"'
sh -c 'trap "echo caught TERM; exit 3" TERM; kill -TERM $$; echo "not reached"'; echo "trap exit $?"
sh -c 'kill -TERM $$'; echo "killed by TERM: $?"
(trap 'echo int' INT; trap 'echo quit' QUIT; trap)
kill -l | tr '\n' ' '; echo
kill -l 15 9 2

echo "== command substitution"
v=$(printf 'a\nb\n\n\n')
echo "[$v]" "$(echo "$(echo nested "$(echo deeper)")")" "$( (echo sub; echo shell) | tr '\n' ,)"
echo "$(uname -m)" "$(sh -c 'uname -m')" "$(echo $HOSTTYPE)"
out=$(exit 7); echo "substitution status $?"

echo "== printf"
printf '%d|%5d|%-5d|%05d|%x|%X|%o|%#x|%u\n' 42 42 42 42 255 255 8 255 3000000000
printf '%s|%10s|%-10s|%.2s|%c\n' str str str str char
printf '%f|%.3f|%e|%g|%G|%10.4f\n' 3.14159 2.71828 12345.678 0.0001 1e20 -1.5
printf '%b|%s\n' 'tab\there\101' 'no\tescape'
printf '%d %d\n' 0x10 010 "'A"
printf '%s-' a b c d; echo
printf '%d\n' notanumber 2>&1; echo "printf status $?"
echo 'echo escapes: \t|\101|\c' ; echo "after"

echo "== parameters"
p=/usr/lib/libfoo.so.1.2
echo ${p#*/} ${p##*/} ${p%.*} ${p%%.*} ${#p} ${missing:-def} ${missing:=set} $missing ${p:+alt}
set -- one "two words" three
echo "$#" "$1" "$2" "$*" "$@"
for arg in "$@"; do printf '<%s>' "$arg"; done; echo
shift; echo "$# $1"
IFS=: read -r f1 f2 f3 <<EOF
a:b c:d
EOF
echo "[$f1] [$f2] [$f3]"

echo "== control flow"
for w in alpha beta gamma; do
  case $w in a*) echo "a-word $w" ;; *t?) echo "t-word $w" ;; *) echo "other $w" ;; esac
done
f() { local x=inner; echo "in f: $x $1"; return 4; }
x=outer; f arg; echo "f returned $? x=$x"
OPTIND=1
while getopts "ab:c" opt -a -b val -c rest; do echo "opt $opt ${OPTARG-}"; done
n=0; until [ $n -ge 3 ]; do n=$((n + 1)); [ $n -eq 2 ] && continue; echo "n $n"; done
command -v printf; command -v cd; command -v uname; type echo
d=$(mktemp -d); cd "$d"; : > b; : > a; : > 'c d'; mkdir sub; echo *; echo s*/; cd /; rm -r "$d"
umask 022; umask; (umask 077; umask); umask
true | false; echo "pipeline $?"; ! false; echo "negated $?"
sleep 0 & wait $!; echo "waited $?"
eval 'echo "eval $((2 + 2))"'
exec 3>&1; echo "to fd 3" >&3; exec 3>&-
echo "== end"
