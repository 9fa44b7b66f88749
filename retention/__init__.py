"""Retention jobs and the operators' CLI (`dossier-vault-retention`).

Built only on `vault`'s public API. The dossier lifecycle (closure, ten years of
conservation, legal holds, crypto-shredding, destruction certificates) lands here with
the lifecycle issue; until then this package holds no code on purpose.
"""
