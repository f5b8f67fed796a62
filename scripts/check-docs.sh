#!/usr/bin/env bash
# scripts/check-docs.sh - builds the docs as docs.rs does (all features, `--cfg docsrs`,
# rustdoc warnings are errors) and checks what docs.rs readers must see: every public
# module opens with a rendered example, and the feature-gated stores carry their badges.
# Called by scripts/test.sh; runs on stable (RUSTC_BOOTSTRAP lets `doc_cfg` through).
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="--cfg docsrs -D warnings" \
  cargo doc --no-deps --all-features

doc=target/doc/axum_token_auth
fail=0
modules=(. auth token trust trust/verify trust/legacy http session store store/family store/grants
  store/guard store/memory store/redis store/postgres password)
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
[[ $fail -eq 0 ]] || exit 1
echo "check-docs: ${#modules[@]} public modules render an example; store badges present"
