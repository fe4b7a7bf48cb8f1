# lib_cli.sh — sourced by the tests/cli_*.sh scripts: a scratch directory,
# pass/fail counters and `expect`. (Not a test itself: ctest runs cli_*.sh.)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect STATUS PATTERN -- command...: exit status and a stderr pattern
expect() {
  local want=$1 pat=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [[ $got -ne $want ]]; then bad "'$*' exited $got, want $want: $(tail -2 "$tmp/err")"; return; fi
  if [[ -n $pat ]] && ! grep -q -- "$pat" "$tmp/err"; then bad "'$*': stderr lacks '$pat': $(cat "$tmp/err")"; return; fi
  ok
}

# Prints the counts; the script's exit status is whether all passed.
finish() {
  echo "$pass passed, $fail failed"
  [[ $fail -eq 0 ]]
}
