#!/usr/bin/env bash
# Keeps docs/GUIDE.md and the code it quotes in step: a fenced block right after a line
#   <!-- quote: examples/guide/account.hpp -->
# must appear in that file verbatim, as whole consecutive lines; and every C++ block of the
# guide must be such a quote, so that all the C++ a reader copies is compiled and run by CTest
# (package_host_find_package builds and runs examples/guide/). Prints each block that fails.
# $1 = strata's source directory.
set -uo pipefail
root=${1:-$(dirname "$0")/..}
guide=$root/docs/GUIDE.md
[[ -f $guide ]] || { echo "FAIL: no $guide"; exit 1; }
status=0 quotes=0 n=0 source= block= fence= start=0 pending=

check_block() {  # the block of lines $start.. in $block, quoted from $source (or not)
  if [[ -z $source ]]; then
    if [[ $fence == cpp ]]; then
      echo "FAIL: GUIDE.md:$start: a C++ block that quotes no file (precede it with <!-- quote: path -->)"
      status=1
    fi
    return
  fi
  quotes=$((quotes + 1))
  if [[ ! -f $root/$source ]]; then
    echo "FAIL: GUIDE.md:$start: quotes $source, which does not exist"
    status=1
    return
  fi
  local text
  text=$'\n'$(<"$root/$source")$'\n'
  if [[ $text != *$'\n'"$block"* ]]; then
    echo "FAIL: GUIDE.md:$start: this block is not in $source as it is:"
    printf '%s' "$block"
    status=1
  fi
}

in_block=0
while IFS= read -r line || [[ -n $line ]]; do
  n=$((n + 1))
  if [[ $in_block -eq 1 ]]; then
    if [[ $line == '```' ]]; then
      check_block
      in_block=0
    else
      block+=$line$'\n'
    fi
  elif [[ $line =~ ^'<!-- quote: '([^ ]+)' -->'$ ]]; then
    pending=${BASH_REMATCH[1]}
  elif [[ $line == '```'* ]]; then
    in_block=1 fence=${line#'```'} start=$((n + 1)) block= source=$pending pending=
  else
    [[ -z $pending || -z $line ]] || {
      echo "FAIL: GUIDE.md:$n: <!-- quote: $pending --> is not followed by a code block"
      status=1
      pending=
    }
  fi
done <"$guide"
[[ $in_block -eq 0 ]] || { echo "FAIL: GUIDE.md ends inside a code block"; status=1; }

if [[ $status -eq 0 ]]; then
  echo "the guide's $quotes quoted blocks are in the example files as they are"
fi
exit $status
