"""A loopback server speaking the parts of the Airflow 3 REST API the bus uses.

``POST /auth/token`` (user name and password → a JWT-like access token, 201),
``POST /api/v2/dags/{dag_id}/dagRuns`` (trigger: 200 with the run; 404 for an unknown DAG; 409
when the DAG already has a run with that ``dag_run_id`` or logical date; 422 when the body lacks
``logical_date``, which Airflow 3 requires, null allowed) and
``GET /api/v2/dags/{dag_id}/dagRuns`` (``~`` for every DAG, ``limit``, ``order_by=-run_after``,
``dag_id_prefix_pattern``). Every ``/api/v2`` call needs ``Authorization: Bearer <token>`` of a
token the server issued and has not expired (``expire_tokens``). Requests are kept in
``requests`` (through ``HttpSimulator``) for the tests to check.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from typing import Any

from adapters._simulators.http import HttpSimulator, Request, Response

__all__ = ["AirflowServer"]

_RUNS = re.compile(r"^/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns$")


def _json(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body).encode(), {"content-type": "application/json"})


class AirflowServer:
    """Airflow's API server on 127.0.0.1, with ``dags`` known and ``runs`` stored."""

    def __init__(self, dags: list[str], username: str = "ebus-api", password: str = "s3cret"):
        self.dags = set(dags)
        self.users = {username: password}
        self.runs: list[dict[str, Any]] = []
        self.issued: list[str] = []
        self._valid: set[str] = set()
        self._lock = threading.Lock()
        self.http = HttpSimulator(self._handle)

    @property
    def url(self) -> str:
        """The base URL (what ``batch.airflow.url`` names)."""
        return self.http.url

    @property
    def requests(self) -> list[Request]:
        """Every request received, in order."""
        return self.http.requests

    def grant(self, token: str) -> None:
        """Accept ``token`` (a token configured in the settings rather than exchanged)."""
        self._valid.add(token)

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (answers 401)."""
        self._valid.clear()

    def add_run(self, dag_id: str, **fields: Any) -> dict[str, Any]:
        """Store a run as the Airflow scheduler would have made it."""
        run = self._run(dag_id, fields.pop("dag_run_id"), **fields)
        self.runs.append(run)
        return run

    def __enter__(self) -> AirflowServer:
        self.http.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.stop()

    def _handle(self, request: Request) -> Response:
        if request.path == "/auth/token" and request.method == "POST":
            return self._token(request)
        if not request.path.startswith("/api/v2/"):
            return _json(404, {"detail": "Not Found"})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self._valid:
            return _json(401, {"detail": "Not authenticated"})
        return self._runs(request)

    def _runs(self, request: Request) -> Response:
        match = _RUNS.match(request.path)
        if match is None:
            return _json(404, {"detail": "Not Found"})
        if request.method == "POST":
            return self._trigger(match["dag_id"], request)
        if request.method == "GET":
            return self._list(match["dag_id"], request)
        return _json(405, {"detail": "Method Not Allowed"})

    def _token(self, request: Request) -> Response:
        try:
            body = json.loads(request.body)
        except ValueError:
            return _json(400, {"detail": "body is not JSON"})
        if self.users.get(body.get("username")) != body.get("password"):
            return _json(401, {"detail": "Invalid credentials"})
        with self._lock:
            token = f"jwt-{len(self.issued) + 1}"
            self.issued.append(token)
            self._valid.add(token)
        return _json(201, {"access_token": token})

    def _trigger(self, dag_id: str, request: Request) -> Response:
        if dag_id not in self.dags:
            return _json(404, {"detail": f"The Dag with dag_id: `{dag_id}` was not found"})
        body = json.loads(request.body)
        if "logical_date" not in body:
            return _json(422, {"detail": [{"loc": ["body", "logical_date"], "type": "missing"}]})
        with self._lock:
            for run in self.runs:
                same_id = run["dag_run_id"] == body.get("dag_run_id")
                same_date = body["logical_date"] is not None and (
                    run["dag_id"] == dag_id and run["logical_date"] == body["logical_date"]
                )
                if run["dag_id"] == dag_id and (same_id or same_date):
                    return _json(
                        409,
                        {"detail": f"DAG Run already exists for dag_id {dag_id} at that date"},
                    )
            run = self._run(
                dag_id,
                body.get("dag_run_id") or f"manual__{len(self.runs)}",
                logical_date=body["logical_date"],
                conf=body.get("conf") or {},
                note=body.get("note"),
            )
            self.runs.append(run)
        return _json(200, run)

    def _list(self, dag_id: str, request: Request) -> Response:
        limit = int(request.query.get("limit", ["50"])[0])
        prefix = request.query.get("dag_id_prefix_pattern", [""])[0]
        order = request.query.get("order_by", ["id"])
        runs = [
            r
            for r in self.runs
            if (r["dag_id"] == dag_id) or (dag_id == "~" and r["dag_id"].startswith(prefix))
        ]
        if order == ["-run_after"]:
            runs = sorted(runs, key=lambda r: r["run_after"], reverse=True)
        return _json(200, {"dag_runs": runs[:limit], "total_entries": len(runs)})

    @staticmethod
    def _run(dag_id: str, dag_run_id: str, **fields: Any) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC).isoformat()
        run = {
            "dag_id": dag_id,
            "dag_display_name": dag_id,
            "dag_run_id": dag_run_id,
            "dag_versions": [],
            "logical_date": None,
            "run_after": now,
            "queued_at": now,
            "start_date": None,
            "end_date": None,
            "run_type": "manual",
            "state": "queued",
            "triggered_by": "rest_api",
            "conf": {},
            "note": None,
        }
        run.update(fields)
        return run
