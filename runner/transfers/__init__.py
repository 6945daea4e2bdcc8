"""The administrative-to-criminal case transfer core (行刑衔接), Decree 310 (2020 revision).

- ``rules``: criminal-threshold rules as data (``routes/transfer-rules/*.yaml``), loaded with
  file/line/key/hint problems and evaluated over canonical cases and penalty decisions;
- ``ledger``: the repeat-offender ledger (penalty decisions per party, keyed digests);
- ``workflow``: the one state machine table and the clocks each step starts and closes;
- ``statutes``: the statutory deadlines with their legal basis and how days and hours count;
- ``package``: the Art. 6 documents and the evidence list with SM3 and SHA-256 digests;
- ``service``: ``TransferService``, the façade of the work below, where every change is one
  transaction (``commit``: state, clocks, audit chain, outbox);
- ``proposals`` (rule hits and the ledger), ``agency_steps`` (approve, refuse, send),
  ``inbound`` (answers and notices from the police side and the procuratorate), ``reverse``
  (reverse transfers open cases), ``outgoing`` (messages and alerts to the outbox), ``watch``
  (missed deadlines), ``relay`` (outbox to the bus);
- ``worker``: the bus consumer of the canonical feeds, the clock watcher and the outbox relay.

The bus never decides a transfer: a rule hit *proposes* one; a person approves or refuses it.
"""

from __future__ import annotations

from runner.transfers.ledger import PenaltyLedger
from runner.transfers.package import EvidenceFile, PackageError, TransferPackage
from runner.transfers.rules import Hit, RuleSet, load_rules
from runner.transfers.service import Applied, Targets, TransferService, UnknownTransfer
from runner.transfers.statutes import DEADLINES, ClockPolicy
from runner.transfers.store import TransferStore
from runner.transfers.workflow import TRANSITIONS, IllegalTransition

__all__ = [
    "DEADLINES",
    "TRANSITIONS",
    "Applied",
    "ClockPolicy",
    "EvidenceFile",
    "Hit",
    "IllegalTransition",
    "PackageError",
    "PenaltyLedger",
    "RuleSet",
    "Targets",
    "TransferPackage",
    "TransferService",
    "TransferStore",
    "UnknownTransfer",
    "load_rules",
]
