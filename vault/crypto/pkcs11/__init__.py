"""Master, index and checkpoint keys in a PKCS#11 token (an HSM; SoftHSM2 in tests).

What it does: `provider.Pkcs11KeyProvider` wraps and unwraps dossier keys *inside* the
token with AES-256-GCM under a versioned master key, computes blind indexes with
CKM_SHA256_HMAC under an index key, and signs journal checkpoints with CKM_EDDSA under an
Ed25519 key (`checkpoint_signer`). `admin` generates those keys inside the token
(`provision`, `add_master_version`), lists which are there (`token_keys`), and destroys a
master version that is no longer the current one (`retire_master_version`; the `keys`
CLI first checks that no dossier key is still wrapped under it). No secret or private key
ever leaves the token, nor could: one found without CKA_SENSITIVE, or with
CKA_EXTRACTABLE, is refused.
What it does not: create or initialise tokens and PINs (operators; tools/softhsm_setup.sh
for tests), rewrap dossier keys onto a new master version (vault/rotation.py), retire the
current master version, rotate the index or checkpoint key, nor bound how long a hung HSM
may block a call (PKCS#11 has no timeouts).

| module      | what it holds                                                | pkcs11 |
|-------------|--------------------------------------------------------------|--------|
| settings.py | `Pkcs11Settings`: module, token, PIN, key labels             | no     |
| session.py  | the process's one locked, logged-in session per token        | yes    |
| objects.py  | finding, checking and generating the token's key objects     | yes    |
| provider.py | `Pkcs11KeyProvider`, `Pkcs11CheckpointSigner`: the key usage | yes    |
| admin.py    | `provision`, `add_master_version`, `retire_master_version`,  | yes    |
|             | `token_keys`: what the `keys` CLI runs                       |        |

This package imports none of them, so `vault.config` reads `settings` without loading
python-pkcs11.
"""
