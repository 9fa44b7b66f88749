"""`VaultClient`'s Merkle proof calls: each returns the proof file an auditor keeps
(docs/format.md, "Journal proofs v1"), built from the reply; the caller verifies it
offline (`dossier-vault journal verify-proof`), never trusting the server that made it."""

from __future__ import annotations

from vault.clientcalls.base import CallsBase
from vault.journal.proofs import consistency_document, inclusion_document
from vault.v1 import vault_pb2 as pb


class JournalProofCalls(CallsBase):
    def inclusion_proof(self, seq: int, tree_size: int = 0) -> bytes:
        """Auditors: the inclusion proof file of entry `seq` in the checkpoint of
        `tree_size` (0: the newest one with a Merkle root)."""
        request = pb.GetInclusionProofRequest(seq=seq, tree_size=tree_size)
        reply = self._call(self._stub.GetInclusionProof, request)
        return inclusion_document(reply.checkpoint, reply.seq, reply.entry, list(reply.hashes))

    def consistency_proof(self, old_size: int, new_size: int = 0) -> bytes:
        """Auditors: the consistency proof file between two checkpoints."""
        request = pb.GetConsistencyProofRequest(old_size=old_size, new_size=new_size)
        reply = self._call(self._stub.GetConsistencyProof, request)
        return consistency_document(reply.old_checkpoint, reply.new_checkpoint, list(reply.hashes))
