"""fire_national in ``make demo``: the ministry issues 督办 tasks, the bus polls and acknowledges.

The script, on the simulator (``FireNationalPlatform`` served by ``HttpSimulator`` on loopback),
polled every ``POLL_INTERVAL_S`` seconds in pages of ``PAGE_SIZE``:

- tasks are issued in waves (``WAVES``): hotels, factories, a 群租房 report about a natural
  person (L3), a fire-accident investigation with 直接财产损失 in 万元; each task version becomes
  one ``enforcement.case.v1`` and is acknowledged (``POST …/tasks/ack``) by the route
  ``fire_national-tasks``; until its acknowledgement lands the national side serves it again,
  and the bus recognises the re-reads as duplicates;
- one task arrives with 督办类型 ``07`` (not in N7): the bus rejects that task alone
  (``unknown_code``, once) and does not acknowledge it; after it was served once the ministry
  issues a corrected version 2, which is mapped and acknowledged;
- at ``SPOIL_AT_S`` one page comes from a gateway node with a ``sign`` that does not verify: the
  poller dead-letters it as received (``signature``) and the next cycle reads the tasks again;
- at ``RATE_LIMIT_AT_S`` one poll is refused with ``42900``: the cycle fails and the next runs;
- at the end the ministry revokes (撤销, version 2) one of the first tasks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from adapters._simulators.http import HttpSimulator
from adapters.fire_national.simulator import FireNationalPlatform
from runner.adapter_api import DemoSystem, SystemCounts

__all__ = ["DEMO", "PAGE_SIZE", "POLL_INTERVAL_S", "FireNationalDemo", "make_task"]

POLL_INTERVAL_S = 2
PAGE_SIZE = 4
SPOIL_AT_S = 2.0
RATE_LIMIT_AT_S = 9.0
BAD_TASK = "DB-2024-35-000907"

_ORGS = {
    "350100": ("福州市消防救援支队", "11350100MB0F44533A"),
    "350200": ("厦门市消防救援支队", "11350200MB1C47813J"),
    "350500": ("泉州市消防救援支队", "11350500MB0P77238Y"),
    "350600": ("漳州市消防救援支队", "11350600MB1J44192E"),
}
_UNITS: dict[str, dict[str, Any]] = {
    "hotel": {
        "unitName": "福州闽辉酒店管理有限公司",
        "creditCode": "91350102MA32H7W263",
        "unitType": "30",
        "legalPerson": "郑宏伟",
        "idType": None,
        "idNo": None,
        "address": "福建省福州市鼓楼区湖东路152号",
        "areaCode": "350102",
    },
    "factory": {
        "unitName": "泉州市锦华纺织有限公司",
        "creditCode": "91350505MA2YJ8X31B",
        "unitType": "30",
        "legalPerson": "王锦华",
        "address": "福建省泉州市泉港区南埔镇工业园区",
        "areaCode": "350505",
    },
    "restaurant": {
        "unitName": "漳州市龙海区荔海餐饮管理有限公司",
        "creditCode": "91350681MA33K9Y48E",
        "unitType": "30",
        "legalPerson": "null",  # typed by county staff (quirk 8)
        "address": "福建省漳州市龙海区石码街道紫泥路12号",
        "areaCode": "350681",
    },
    "person": {
        "unitName": "林三菁",
        "creditCode": None,
        "unitType": "90",
        "legalPerson": None,
        "idType": "1",
        "idNo": "350206196501090267",
        "address": "福建省厦门市湖里区金山街道金尚路480号",
        "areaCode": "350206",
    },
}
# (seconds after the start, taskId number, task type, undertaking division, unit, loss in 万元)
WAVES: tuple[tuple[float, int, str, str, str, str | None], ...] = (
    (0.5, 901, "01", "350100", "hotel", None),
    (0.5, 902, "02", "350500", "factory", "35.6"),
    (0.5, 903, "04", "350600", "restaurant", None),
    (3.0, 904, "03", "350200", "person", None),
    (3.0, 905, "01", "350100", "hotel", None),
    (6.0, 906, "02", "350500", "factory", "12.345678"),
    (6.0, 907, "07", "350600", "restaurant", None),  # 督办类型 07 is not in N7
    (11.0, 908, "04", "350600", "restaurant", None),
)
_TITLES = {
    "01": "重大火灾隐患挂牌督办",
    "02": "火灾事故调查督办",
    "03": "群租房消防安全问题举报核查督办",
    "04": "燃气安全专项督办",
}


def make_task(
    number: int,
    task_type: str,
    division: str,
    unit: str,
    loss_wan: str | None,
    *,
    version: int = 1,
    status: str = "1",
) -> dict[str, Any]:
    """One 督办 task version as the national side serves it (README §3.3)."""
    org_name, org_uscc = _ORGS[division]
    party = dict(_UNITS[unit])
    title = f"{party['unitName'] if unit != 'person' else '群租房'}{_TITLES.get(task_type, '督办')}"
    return {
        "taskId": f"DB-2024-35-{number:06d}",
        "version": version,
        "taskType": task_type,
        "taskStatus": status,
        "title": title,
        "issueOrg": {"orgName": "国家消防救援局", "orgCode": "100000"},
        "issueTime": str(time.time_ns() // 1_000_000 - 3_600_000),  # a digit string (quirk 1)
        "deadline": "2024-12-31",
        "undertakeOrg": {"orgName": org_name, "orgCreditCode": org_uscc, "areaCode": division},
        "unit": party,
        "hazardType": "消防设施瘫痪" if task_type != "02" else "火灾事故",
        "content": "请依法督促整改并按期上报整改情况。",
        "legalBasis": [{"lawName": "《中华人民共和国消防法》", "articleNo": "第十六条"}],
        "directLossWan": None if loss_wan is None else float(loss_wan),
    }


class FireNationalDemo:
    """The running national simulator and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.platform = FireNationalPlatform()
        self.server = HttpSimulator(self.platform.handle)
        self._issued = 0
        self._good: set[tuple[str, int]] = set()
        self._spoiled = self._limited = self._corrected = self._revoked = False
        self.server.start()

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's URL, a short poll interval and small pages."""
        return {
            "endpoint": self.server.url,
            "poll_interval_s": POLL_INTERVAL_S,
            "page_size": PAGE_SIZE,
        }

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The task with an unknown 督办类型, and the page with a bad signature."""
        return {"unknown_code": 1, "signature": 1}

    def intro(self) -> list[str]:
        """What the ministry will do."""
        return [
            f"national 督办 tasks polled every {POLL_INTERVAL_S} s (SM4-CBC + HMAC-SM3 envelopes): "
            f"{len(WAVES)} tasks in waves, one with an unknown 督办类型, one page with a bad "
            "sign, one 42900 rate limit, one 撤销"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Issue the tasks that are due, and play the faults."""
        notes: list[str] = []
        while self._issued < len(WAVES) and elapsed_s >= WAVES[self._issued][0]:
            _, number, task_type, division, unit, loss = WAVES[self._issued]
            self.platform.add_task(make_task(number, task_type, division, unit, loss))
            if task_type in _TITLES:
                self._good.add((f"DB-2024-35-{number:06d}", 1))
            self._issued += 1
            notes.append(
                f"fire_national: the ministry issues 督办 task {number} (type {task_type})"
            )
        notes += self._faults(elapsed_s)
        return notes

    def _faults(self, elapsed_s: float) -> list[str]:
        notes: list[str] = []
        if not self._corrected and self.platform.served.get((BAD_TASK, 1)):
            self._corrected = True
            self.platform.replace_task(
                BAD_TASK, make_task(907, "04", "350600", "restaurant", None, version=2, status="2")
            )
            self._good.add((BAD_TASK, 2))
            notes.append("fire_national: the ministry corrects task 907 (version 2, type 04)")
        if not self._spoiled and elapsed_s >= SPOIL_AT_S:
            self._spoiled = True
            self.platform.spoil_next_page("sign")
            notes.append(
                "fire_national: the next tasks page comes with a sign that does not verify"
            )
        if not self._limited and elapsed_s >= RATE_LIMIT_AT_S:
            self._limited = True
            self.platform.refuse_next("42900", polls_only=True)
            notes.append("fire_national: the next poll is refused with 42900 (rate limit)")
        if not self._revoked and self._issued == len(WAVES):
            self._revoked = True
            self.platform.add_task(
                make_task(901, "01", "350100", "hotel", None, version=2, status="3")
            )
            self._good.add(("DB-2024-35-000901", 2))
            notes.append("fire_national: the ministry revokes (撤销) task 901 with version 2")
        return notes

    def finished(self) -> bool:
        """Every task issued, the faults played, and every good version acknowledged."""
        acked = {(task_id, version) for task_id, version, _ in self.platform.acked}
        return self._revoked and self._corrected and self._good <= acked

    def check(self, counts: SystemCounts) -> list[str]:
        """One canonical case per good task version, all acknowledged, none left pending."""
        problems = []
        if counts.mapped != len(self._good):
            problems.append(
                f"fire_national: {counts.mapped} canonical cases mapped, "
                f"expected {len(self._good)} (one per good task version)"
            )
        left = [t for t in self.platform.pending if t["taskId"] != BAD_TASK]
        if left:
            problems.append(f"fire_national: {len(left)} task versions were never acknowledged")
        return problems

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


DEMO = DemoSystem(system="fire_national", start=FireNationalDemo)
