"""enforcement.supervision_notice.v1 (检察监督通知): a procuratorate's notice about a transfer."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from schemas.base import CanonicalModel
from schemas.case_code import CaseCode
from schemas.classes import DataClass, classed
from schemas.common import Party
from schemas.identifiers import Uscc
from schemas.text import Text
from schemas.timeutil import CanonicalDate, CanonicalDatetime

__all__ = ["Issuer", "SupervisionNotice"]


class Issuer(CanonicalModel):
    """The procuratorate that issued a notice."""

    name: Text
    uscc: Uscc
    kind: Literal["procuratorate"]


class SupervisionNotice(CanonicalModel):
    """检察监督通知: 建议移送, 要求说明不移送理由 or 立案监督; a revision keeps ``notice_no`` and
    raises ``version``. The content of a ``sensitive`` notice (工作秘密) is L4."""

    SCHEMA: ClassVar[str] = "enforcement.supervision_notice.v1"

    notice_no: Text
    version: Annotated[int, Field(ge=1)]
    kind: Literal["suggest_transfer", "explain_non_transfer", "filing_supervision"]
    case_code: CaseCode | None
    source_case_no: Text | None
    case_title: Text
    issued_by: Issuer
    addressee_uscc: Uscc
    issued_at: CanonicalDatetime
    content: Annotated[Text, classed("L2")]
    reply_due: CanonicalDate | None
    parties: list[Party]
    sensitive: bool

    def field_class(self, name: str) -> DataClass:
        """``content`` is L4 when the notice is marked sensitive."""
        if name == "content" and self.sensitive:
            return "L4"
        return super().field_class(name)
