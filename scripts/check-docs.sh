#!/usr/bin/env bash
# scripts/check-docs.sh - builds the docs as docs.rs does (all features, `--cfg docsrs`,
# rustdoc warnings are errors) and checks what docs.rs readers must see: every public
# module opens with a rendered example, every page of the manual (`src/manual/*.rs`,
# documentation only) renders its prose and is listed in the manual's index, and the
# feature-gated stores carry their badges. Then the README (GitHub, crates.io) shows no
# rustdoc-hidden `# ` lines and no replaced system's name (those belong to the migration
# guide and `trust::legacy`), nor do the item docs of `session` and `store::refresh`, and
# the README stays short.
# Called by scripts/test.sh; runs on stable (RUSTC_BOOTSTRAP lets `doc_cfg` through).
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="--cfg docsrs -D warnings" \
  cargo doc --no-deps --all-features

doc=target/doc/axum_token_auth
fail=0
modules=(. auth token trust trust/verify trust/legacy http session store store/refresh store/grants
  store/breaker store/memory store/redis store/postgres store/external_revocation trust/events
  http/events http/openapi session/throttle session/password_login store/attempts password)
[[ -d $doc/testing ]] && modules+=(testing)
for m in "${modules[@]}"; do
  page=$doc/$m/index.html
  if [[ ! -f $page ]]; then
    echo "check-docs: $m: no page" >&2; fail=1; continue
  fi
  if ! grep -q 'rust-example-rendered' "$page"; then
    echo "check-docs: module $m has no rendered example" >&2; fail=1
  fi
done
for f in redis postgres; do
  if ! grep -q "title=\"Available on crate feature \`$f\` only\"" "$doc/store/index.html"; then
    echo "check-docs: store::$f has no feature badge" >&2; fail=1
  fi
done

# The manual: every file of src/manual is a page, documented and listed in the index.
pages=(manual)
for f in src/manual/*.rs; do
  [[ $f == src/manual/mod.rs ]] || pages+=("manual/$(basename "$f" .rs)")
done
for m in "${pages[@]}"; do
  page=$doc/$m/index.html
  if [[ ! -f $page ]]; then
    echo "check-docs: $m: no page (is it \`pub mod\` in src/manual/mod.rs?)" >&2; fail=1; continue
  fi
  if ! grep -q 'class="docblock"' "$page"; then
    echo "check-docs: manual page $m has no documentation" >&2; fail=1
  fi
  name=${m#manual/}
  if [[ $m != manual ]] && ! grep -q "\[\`$name\`\]" src/manual/mod.rs; then
    echo "check-docs: manual page $name is not listed in the manual's index" >&2; fail=1
  fi
done

# The README is shown verbatim on GitHub and crates.io: no hidden lines in its examples.
if awk '/^```/ { inside = !inside; rust = inside && ($0 == "```" || $0 ~ /^```rust/); next }
        rust && /^ *# / { print FILENAME ":" NR ": " $0; found = 1 }
        END { exit !found }' README.md >&2; then
  echo "check-docs: README.md has rustdoc-hidden lines (make the example complete)" >&2; fail=1
fi
if grep -n -E 'ScopedTokenService|[Ww]ebtool|[Ff]astcore|JWTService|Flask|Token-Auth' README.md src/manual/*.rs \
    | grep -v '^src/manual/migration.rs:' >&2; then
  echo "check-docs: a replaced system is named outside the migration guide" >&2; fail=1
fi
# Item docs of the session flows and the refresh store speak of sessions, not of the
# systems they replace (rendered lines only: `///`, `//!`, not rustdoc-hidden `# ` lines).
if grep -n -E '^\s*//[/!]( [^#].*)?(ScopedTokenService|[Ww]ebtool|[Ff]astcore|JWTService|Flask|Token-Auth|seed system)' \
    src/session/*.rs src/store/refresh.rs src/store/refresh/*.rs >&2; then
  echo "check-docs: a replaced system is named in the docs of session/ or store::refresh" >&2; fail=1
fi
# 280: the README shows, as complete compiled examples, each piece a new team would
# otherwise write by hand (issue 23: logins, OpenAPI, a fake provider in tests).
lines=$(wc -l < README.md)
if (( lines > 280 )); then
  echo "check-docs: README.md has $lines lines; keep it under 280 (long prose goes to the manual)" >&2
  fail=1
fi

[[ $fail -eq 0 ]] || exit 1
echo "check-docs: ${#modules[@]} public modules render an example; ${#pages[@]} manual pages" \
  "documented and indexed; store badges present; README $lines lines, no hidden lines"
