"""The transfer package (Decree 310 Art. 6): its documents and its evidence list with digests.

Art. 6 requires the 涉嫌犯罪案件移送书, the 调查报告 and the 涉案物品清单, with the
检验报告/鉴定意见 where items were tested and any other material; each document is named with
its 文号 in full-width parentheses (``涉案物品清单（岩新环物〔2025〕2号）``). Every evidence file
is digested with SM3 (GB/T 32905, what the police side checks) and SHA-256, so the receiver
can verify each item (证据互认): the canonical list carries the SM3 digest, the store keeps
both.

Example::

    package = TransferPackage.build(
        documents=[("transfer_letter", "涉嫌犯罪案件移送书（岩新环移〔2025〕2号）"), ...],
        evidence=[EvidenceFile("现场勘验笔录及照片", "inspection_record", data)],
    )
    package.evidence_items()   # canonical evidence[] with SM3 digests
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from runner.errors import EbusError
from runner.smcrypto import sm3_hex

__all__ = [
    "REQUIRED_DOCUMENTS",
    "EvidenceDigest",
    "EvidenceFile",
    "PackageError",
    "TransferPackage",
    "missing_documents",
    "verify_evidence",
]

REQUIRED_DOCUMENTS: Final = ("transfer_letter", "investigation_report", "items_list")
"""Document kinds every package carries (Art. 6 (1)–(3)); ``inspection_report`` and ``other``
are added when there are any."""

_DOCUMENT_KINDS = frozenset({*REQUIRED_DOCUMENTS, "inspection_report", "other"})
_EVIDENCE_KINDS = frozenset(
    {
        "documentary",
        "physical",
        "audio_visual",
        "electronic_data",
        "witness_testimony",
        "party_statement",
        "expert_opinion",
        "inspection_record",
    }
)


class PackageError(EbusError):
    """A transfer package is incomplete or malformed; the message says what is missing."""


@dataclass(frozen=True)
class EvidenceFile:
    """One evidence file to digest: its name, kind (T4 / canonical) and bytes."""

    name: str
    kind: str
    data: bytes


@dataclass(frozen=True)
class EvidenceDigest:
    """One evidence item with both its digests and its size."""

    name: str
    kind: str
    sm3: str
    sha256: str
    size_bytes: int

    @classmethod
    def of(cls, item: EvidenceFile) -> EvidenceDigest:
        """Digest an evidence file."""
        if item.kind not in _EVIDENCE_KINDS:
            raise PackageError(
                f"evidence '{item.name}': unknown kind '{item.kind}'; "
                f"expected one of {', '.join(sorted(_EVIDENCE_KINDS))}"
            )
        return cls(
            item.name,
            item.kind,
            sm3_hex(item.data),
            hashlib.sha256(item.data).hexdigest(),
            len(item.data),
        )

    def canonical(self, algorithm: str = "sm3") -> dict[str, Any]:
        """The canonical ``evidence[]`` item with one of the digests."""
        return {
            "name": self.name,
            "kind": self.kind,
            "digest_algorithm": algorithm,
            "digest_value": self.sm3 if algorithm == "sm3" else self.sha256,
            "size_bytes": self.size_bytes,
        }


def verify_evidence(item: Mapping[str, Any], data: bytes) -> bool:
    """Whether ``data`` is the evidence a canonical ``evidence[]`` item describes."""
    algorithm = item.get("digest_algorithm")
    if algorithm == "sm3":
        digest = sm3_hex(data)
    elif algorithm == "sha256":
        digest = hashlib.sha256(data).hexdigest()
    else:
        return False
    return digest == item.get("digest_value") and len(data) == item.get("size_bytes")


@dataclass(frozen=True)
class TransferPackage:
    """The documents and digested evidence of one transfer, checked against Art. 6."""

    documents: tuple[tuple[str, str], ...]
    evidence: tuple[EvidenceDigest, ...]

    @classmethod
    def build(
        cls,
        documents: Iterable[tuple[str, str]],
        evidence: Iterable[EvidenceFile | EvidenceDigest] = (),
    ) -> TransferPackage:
        """A checked package; ``PackageError`` names every missing or malformed part."""
        docs = tuple((kind, name.strip()) for kind, name in documents)
        digests = tuple(
            e if isinstance(e, EvidenceDigest) else EvidenceDigest.of(e) for e in evidence
        )
        problems = [
            f"document '{name}' has unknown kind '{kind}'"
            for kind, name in docs
            if kind not in _DOCUMENT_KINDS
        ]
        problems += [
            f"document '{name}' has no 文号 in full-width parentheses"
            for _, name in docs
            if not (name.endswith("）") and "（" in name)
        ]
        kinds = {kind for kind, _ in docs}
        problems += [
            f"missing the {kind} document (Decree 310 Art. 6)"
            for kind in REQUIRED_DOCUMENTS
            if kind not in kinds
        ]
        if any(e.kind == "expert_opinion" for e in digests) and "inspection_report" not in kinds:
            problems.append(
                "evidence holds an expert opinion but no inspection_report document is listed"
            )
        if problems:
            raise PackageError("; ".join(problems))
        return cls(docs, digests)

    def document_items(self) -> list[dict[str, str]]:
        """The canonical ``documents[]``."""
        return [{"kind": kind, "name": name} for kind, name in self.documents]

    def evidence_items(self, algorithm: str = "sm3") -> list[dict[str, Any]]:
        """The canonical ``evidence[]`` (SM3 by default: what the police side verifies)."""
        return [e.canonical(algorithm) for e in self.evidence]

    def sha256_by_sm3(self) -> dict[str, str]:
        """The SHA-256 digest of every item, keyed by its SM3 digest (kept in the store)."""
        return {e.sm3: e.sha256 for e in self.evidence}


def missing_documents(documents: Sequence[dict[str, Any]] | None) -> list[str]:
    """The required document kinds a canonical ``documents[]`` lacks."""
    kinds = {d.get("kind") for d in documents or []}
    return [kind for kind in REQUIRED_DOCUMENTS if kind not in kinds]
