#!/usr/bin/env bash
# Creates a SoftHSM2 token for tests and local development, never for real health data.
#
#   tools/softhsm_setup.sh DIR   ->  DIR/softhsm2.conf, DIR/tokens/ (mode 0700), one token
#
# Prints, on stdout and alone, the line that points the PKCS#11 module at it:
#   export SOFTHSM2_CONF=DIR/softhsm2.conf
# so `eval "$(tools/softhsm_setup.sh var/hsm)"` works. Everything else goes to stderr.
#
# Idempotent: an existing configuration file is kept and a token that already carries the
# label is left alone (its keys survive). It creates the token only; the vault's keys are
# made by the provisioning code (vault/crypto/pkcs11/admin.py) inside the token.
#
# Environment (the defaults are test PINs, public by construction):
#   VAULT_PKCS11_TOKEN_LABEL  token label            (default dossier-vault-test)
#   VAULT_SOFTHSM_SO_PIN      security officer PIN   (default 1234)
#   VAULT_PKCS11_PIN          user PIN               (default 5678)
# softhsm2-util only takes PINs as arguments, so they are visible to `ps` while it runs:
# one more reason to keep this script away from production tokens.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
command -v softhsm2-util >/dev/null || {
  echo "softhsm2-util not found: install the softhsm2 package" >&2
  exit 1
}

label="${VAULT_PKCS11_TOKEN_LABEL:-dossier-vault-test}"
so_pin="${VAULT_SOFTHSM_SO_PIN:-1234}"
user_pin="${VAULT_PKCS11_PIN:-5678}"

mkdir -p "$1"
dir="$(cd "$1" && pwd)"
conf="$dir/softhsm2.conf"
mkdir -p "$dir/tokens"
chmod 700 "$dir/tokens"

if [[ ! -f "$conf" ]]; then
  umask 077
  cat >"$conf" <<EOF
# SoftHSM2 configuration written by tools/softhsm_setup.sh (tests and development only)
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
fi
export SOFTHSM2_CONF="$conf"

# `--show-slots` prints "Label: <label padded with spaces>" for every initialised token.
if softhsm2-util --show-slots | awk -v want="$label" '
    $1 == "Label:" { sub(/^[[:space:]]*Label:[[:space:]]*/, ""); sub(/[[:space:]]+$/, "");
                     if ($0 == want) found = 1 }
    END { exit found ? 0 : 1 }'; then
  echo "token '$label' already initialised in $dir/tokens" >&2
else
  softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$user_pin" >&2
fi

printf 'export SOFTHSM2_CONF=%q\n' "$conf"
