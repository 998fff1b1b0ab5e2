"""A fake codon optimisation service: query-string login, 60-minute tokens, fitness, jobs."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .server import FakeServer, Request, Response, json_response

FITNESS = [
    {"id": "cai", "name": "Codon Adaptation Index", "parameters": [{"name": "weight", "required": False, "type": "number"}]},
    {"id": "dna_manufact", "name": "DNA Manufacturability", "parameters": [{"name": "weight", "required": False, "type": "number"}]},
    {"id": "gc_content", "name": "GC Content", "parameters": [
        {"name": "min", "required": True, "type": "number"},
        {"name": "max", "required": True, "type": "number"},
        {"name": "weight", "required": False, "type": "number"}]},
    {"id": "ppy", "name": "Pseudoyield", "parameters": [{"name": "weight", "required": False, "type": "number"}]},
    {"id": "u_content", "name": "Uridine Content", "parameters": [{"name": "weight", "required": False, "type": "number"}]},
]  # fmt: skip
SYNONYMS = {
    "CTG": "CTC", "CTC": "CTG", "GCC": "GCT", "GCT": "GCC", "AGC": "TCC", "TCC": "AGC",
    "GGC": "GGT", "GGT": "GGC", "AAA": "AAG", "AAG": "AAA", "GAA": "GAG", "GAG": "GAA",
    "ATT": "ATC", "ATC": "ATT", "CGT": "CGC", "CGC": "CGT", "TTT": "TTC", "TTC": "TTT",
}  # fmt: skip


def _gc(seq: str) -> float:
    return round(100.0 * sum(base in "GC" for base in seq) / max(len(seq), 1), 2)


def _variant(seq: str, rank: int) -> str:
    codons = [seq[i : i + 3] for i in range(0, len(seq) - len(seq) % 3, 3)]
    changed = [
        SYNONYMS.get(c, c) if (i + rank) % (rank + 1) == 0 else c for i, c in enumerate(codons)
    ]
    return "".join(changed) + seq[len(seq) - len(seq) % 3 :]


def _scores(seq: str, fitness: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    digest = hashlib.sha256(seq.encode()).digest()
    items = []
    for index, item in enumerate(fitness):
        name = item["name"]
        raw = _gc(seq) / 10 if name == "gc_content" else round(0.3 + digest[index] / 400, 2)
        items.append({"name": name, "weight": item.get("weight", 1.0), "score": raw})
    return round(sum(i["score"] * i["weight"] for i in items), 2), items


@dataclass
class FakeCodonJob:
    id: str
    payload: dict[str, Any]
    script: list[str]
    status: str = "pending"
    result: dict[str, Any] = field(default_factory=dict)
    # An ISO timestamp (UTC), or "pending" until the service's database has the job.
    created_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None).isoformat()
    )

    def listed(self) -> dict[str, Any]:
        """The job as GET /jobs lists it."""
        return {
            "jobid": self.id,
            "name": self.payload.get("name"),
            "status": self.status,
            "created_at": self.created_at,
        }


class FakeCodon(FakeServer):
    def __init__(self, username: str, password: str) -> None:
        super().__init__()
        self.username, self.password = username, password
        self.tokens: set[str] = set()
        self.script = ["pending", "processing", "processing", "success"]
        self.fail_with: str | None = None
        self.jobs: dict[str, FakeCodonJob] = {}

    def expire_tokens(self) -> None:
        """What happens to every token 60 minutes after login."""
        self.tokens.clear()

    def handle(self, request: Request) -> Response:
        method, path = request.method, request.path
        if method == "GET" and path == "/":
            return json_response(
                {
                    "build": "5bae0bac9ae07cf515b1cd0687a6861c778b6601",
                    "environment": "prod",
                    "firebase": True,
                }
            )
        if method == "POST" and path == "/login":
            if (
                request.query.get("username") != self.username
                or request.query.get("password") != self.password
            ):
                return json_response({"error": "Invalid username or password"}, 401)
            token = secrets.token_hex(32)
            self.tokens.add(token)
            return json_response({"token": token})
        if method == "GET" and path == "/fitness":
            return json_response({"fitness_functions": FITNESS})
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return json_response({"error": "Token expired or invalid"}, 401)
        body = request.json() or {}
        if method == "POST" and path == "/optimise":
            return self._submit(body)
        if method == "GET" and path == "/jobs":
            return self._list(request.query)
        if method == "GET" and path.startswith("/jobs/"):
            job = self.jobs.get(path.removeprefix("/jobs/"))
            if job is None:
                return json_response({"error": "Job not found"}, 404)
            return json_response(
                {**job.listed(), "payload": job.payload, "results": job.result.get("results", [])}
            )
        if method == "POST" and path == "/optimise/status":
            results = []
            for job_id in body.get("jobids", []):
                job = self.jobs.get(job_id)
                if job is None:
                    return json_response({"error": f"Unknown job {job_id}"}, 404)
                if job.script:
                    job.status = job.script.pop(0)
                results.append({"jobid": job.id, "status": job.status})
            return json_response({"results": results})
        if method == "POST" and path == "/optimise/result":
            job = self.jobs.get(body.get("jobid", ""))
            if job is None:
                return json_response({"error": "Unknown job"}, 404)
            if job.status == "error":
                return json_response(
                    {
                        "jobid": job.id,
                        "status": "error",
                        "error": self.fail_with or "worker crashed",
                    }
                )
            if job.status != "success":
                return json_response({"jobid": job.id, "status": job.status, "results": []})
            return json_response(job.result)
        return json_response({"error": "Not found"}, 404)

    def _list(self, query: dict[str, str]) -> Response:
        """The user's jobs, newest first, `limit` a page, from the job `start` on."""
        jobs = list(reversed(self.jobs.values()))
        ids = [job.id for job in jobs]
        first = ids.index(query["start"]) if query.get("start") in ids else 0
        limit = int(query.get("limit") or 10)
        page = jobs[first : first + limit]
        following = jobs[first + limit : first + limit + 1]
        return json_response(
            {
                "jobs": [job.listed() for job in page],
                "next": following[0].id if following else None,
                "previous": jobs[max(first - limit, 0)].id if first else None,
            }
        )

    def _submit(self, body: dict[str, Any]) -> Response:
        sequence = body.get("sequence")
        if isinstance(sequence, list):
            genes = [c for c in sequence if c.get("featureType") == "gene_of_interest"]
            if len(genes) != 1:
                return json_response({"error": "exactly one gene_of_interest required"}, 400)
            cds = genes[0]["sequence"]
        elif isinstance(sequence, str) and sequence:
            cds = sequence
        else:
            return json_response({"error": "sequence is required"}, 400)
        known = {f["id"] for f in FITNESS}
        fitness = body.get("fitness_list") or []
        if not fitness or any(f.get("name") not in known for f in fitness):
            return json_response({"error": "invalid fitness_list"}, 400)
        job = FakeCodonJob(str(uuid.uuid4()), body, list(self.script))
        if self.fail_with:
            job.script = ["pending", "processing", "error"]
        results = []
        for rank in range(4):
            seq = cds if rank == 0 else _variant(cds, rank)
            score, items = _scores(seq, fitness)
            results.append(
                {
                    "type": "original" if rank == 0 else "optimized",
                    "sequence": seq,
                    "score": score if rank == 0 else round(score + 4 - rank, 2),
                    "motif_in_cds": 1 if rank == 0 else 0,
                    "motif_in_utr": 0,
                    "fitness_list": items,
                }
            )
        job.result = {"jobid": job.id, "status": "success", "results": results}
        self.jobs[job.id] = job
        return json_response({"name": body.get("name"), "jobid": job.id})
