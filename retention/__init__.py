"""Retention jobs and the operators' CLI (`dossier-vault-retention`).

Built on `vault`'s adapters and pure lifecycle rules (vault/domain/lifecycle.py):
`destroyer` destroys due dossiers for good and resumably, with signed certificates;
`lock` keeps runs one at a time; `cli` is the operators' command line.
"""
