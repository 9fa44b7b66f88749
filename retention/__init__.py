"""Retention jobs, run by the operators' command `dossier-vault-retention`.

Built on `vault`'s adapters and pure lifecycle rules (vault/domain/lifecycle.py):
`destroyer` destroys due dossiers for good and resumably, with signed certificates;
`lock` keeps runs one at a time. The command line is vault/cli/retention.py; the
adapters are built by vault/composition.py.
"""
