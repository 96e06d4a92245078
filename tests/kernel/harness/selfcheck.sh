#!/bin/sh
# The oracle's noise floor: for every kernel-test program, two strace runs must agree
# exactly (names, returns, args, text, events) after normalisation. A program that fails
# here is nondeterministic, and its clonebot comparison would be meaningless.
# Usage: selfcheck.sh PYTHON ORACLE_PY PROGS_DIR
py=$1 oracle=$2 progs=$3
fail=0
for p in "$progs"/*; do
  [ -x "$p" ] || continue
  name=$(basename "$p")
  extra="" arg=""
  case $name in
    threads) extra="--ignore futex" ;;
    long_running) arg=20 ;;
  esac
  out=$("$py" "$oracle" --self-check --min-names 100 --min-returns 100 --min-args 100 \
        --min-text 100 --min-events 100 $extra -- "$p" $arg 2>&1)
  rc=$?
  [ $rc -eq 77 ] && { echo "$out"; exit 77; }
  if [ $rc -ne 0 ]; then
    fail=1
    echo "$out"
  else
    echo "$name: $(echo "$out" | grep 'names ')"
  fi
done
exit $fail
