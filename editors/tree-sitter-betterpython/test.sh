#!/usr/bin/env bash
# Test the tree-sitter grammar: regenerate the parser, run the corpus under
# test/corpus/, then parse every program of the test suite (tests/programs/) and
# examples/ and fail if one gives an ERROR or MISSING node.
#
# Programs that the real parser rejects (a lexer or parser error: the files meant
# not to parse, under tests/programs/errors_compile/ and tests/programs/reference/)
# are skipped. They are found by asking bp itself: `bp fmt -` only lexes and parses
# (unlike `bp check` it does not type-check), so it fails exactly on a syntax error.
#
# Needs: cargo (to install the tree-sitter CLI if it is missing), Node (for
# `tree-sitter generate`), a C compiler (tree-sitter compiles the parser), and bp
# (built with `cargo build` if target/debug/bp is missing; or set BP=/path/to/bp).
#
# Options: --no-generate  use the committed src/parser.c as is (no Node needed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

generate=1
for arg in "$@"; do
  case "$arg" in
    --no-generate) generate=0 ;;
    *) echo "usage: $0 [--no-generate]" >&2; exit 2 ;;
  esac
done

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tree-sitter >/dev/null 2>&1; then
  echo "== installing the tree-sitter CLI (cargo install tree-sitter-cli --locked)"
  nice -n 10 cargo install tree-sitter-cli --locked
fi
echo "== $(tree-sitter --version)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# A private configuration whose only parser directory holds this grammar: no
# warning about unconfigured parser directories, and `tree-sitter tags` finds it.
mkdir -p "$tmp/config/parsers"
ln -s "$here" "$tmp/config/parsers/tree-sitter-betterpython"
echo "{\"parser-directories\": [\"$tmp/config/parsers\"]}" > "$tmp/config/config.json"
export TREE_SITTER_DIR="$tmp/config"

if [ "$generate" = 1 ]; then
  if ! command -v node >/dev/null 2>&1; then
    echo "tree-sitter generate needs Node (Debian: apt-get install nodejs), or run with --no-generate" >&2
    exit 1
  fi
  echo "== tree-sitter generate"
  # ABI 14: loadable by Neovim 0.9+ and older Helix too (ABI 15 needs Neovim 0.11+).
  tree-sitter generate --abi 14
  if command -v git >/dev/null 2>&1 && git -C "$here" rev-parse >/dev/null 2>&1 &&
    ! git -C "$here" diff --quiet -- src; then
    echo "warning: the generated sources differ from the committed ones (commit src/ after changing grammar.js)" >&2
  fi
fi

echo "== tree-sitter test (corpus)"
tree-sitter test

echo "== queries compile (queries/ for Neovim and tree-sitter, helix/ for Helix)"
for q in queries/*.scm helix/*.scm; do
  if ! tree-sitter query "$q" test/highlight/sample.bp > /dev/null; then
    echo "query $q does not compile" >&2
    exit 1
  fi
done

echo "== tree-sitter tags"
tags="$(tree-sitter tags test/highlight/sample.bp)"
if ! grep -Eq "^area .*function.*def" <<< "$tags"; then
  echo "tree-sitter tags does not find the function 'area' in test/highlight/sample.bp:" >&2
  echo "$tags" >&2
  exit 1
fi

BP="${BP:-$root/target/debug/bp}"
if [ ! -x "$BP" ]; then
  echo "== building bp (cargo build)"
  (cd "$root" && nice -n 10 cargo build --quiet)
fi

echo "== parsing the programs of tests/programs/ and examples/"
: > "$tmp/parse"
: > "$tmp/skipped"
while IFS= read -r f; do
  if "$BP" fmt - < "$f" > /dev/null 2>&1; then
    echo "$f" >> "$tmp/parse"
  else
    echo "$f" >> "$tmp/skipped"
  fi
done < <(cd "$root" && find tests/programs examples -name '*.bp' | sort | sed "s|^|$root/|")

failed=()
while IFS= read -r f; do
  if ! tree-sitter parse --quiet "$f" > /dev/null 2>&1; then
    failed+=("${f#"$root"/}")
  fi
done < "$tmp/parse"

total=$(wc -l < "$tmp/parse")
skipped=$(wc -l < "$tmp/skipped")
echo "parsed $((total - ${#failed[@]}))/$total programs without an error node ($skipped skipped: bp reports a syntax error in them)"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "programs with an ERROR or MISSING node:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "ok"
