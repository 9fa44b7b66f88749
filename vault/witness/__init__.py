"""Witnesses of the journal's checkpoints (c2sp.org/tlog-witness, tlog-cosignature; ADR 0044)."""
