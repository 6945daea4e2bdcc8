"""Adapter inputs that are not canonical messages: the three outbound requests built from an
input object (canonical.md "Adapter inputs")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.base import CanonicalModel
from schemas.case_code import CaseCode
from schemas.common import Agency, Party
from schemas.envelope import MessageId
from schemas.identifiers import Uscc

__all__ = ["DishonestQuery", "NoticeFetch", "QuerySubject", "SubjectLookup"]


class QuerySubject(CanonicalModel):
    """One subject of a dishonest query, with the case it is checked for."""

    party: Party
    case_code: CaseCode | None = None


class DishonestQuery(CanonicalModel):
    """Input of joint_punishment ``dishonest_query``: 1..50 subjects checked for one scene."""

    request_id: MessageId
    agency: Agency
    scene: Literal["license", "penalty", "inspection", "other"]
    subjects: Annotated[list[QuerySubject], Field(min_length=1, max_length=50)]


class SubjectLookup(CanonicalModel):
    """Input of credit_fj ``subject_lookup_request``."""

    uscc: Uscc


class NoticeFetch(CanonicalModel):
    """Input of two_laws ``fetch_notices_request``: notices addressed to ``org_code`` after a
    sequence number."""

    org_code: Uscc
    since_seq: Annotated[int, Field(ge=0)]
