"""The review app: a local web server where a reviewer confirms, corrects or rejects the machine's verdicts.

`promise-map review outputs/my-run` serves http://127.0.0.1:8765: the run's documents, then a document's
gap table, an item at a time: the machine's verdict and score, the item's whole text, its evidence passages
with the matched words highlighted and their pages. The reviewer sets the status (covered / partial /
missing / not applicable), accepts or rejects each passage and writes a note; each decision is appended
to the review store (pipeline/review/store.py) the moment it is made.

Security: it binds 127.0.0.1 unless told otherwise; requests naming another host are refused (a web page
cannot reach it by a DNS name of its own); every state-changing request is JSON carrying the server's
per-session token, which another site's page cannot read or send (no cross-site request forgery); document
text is autoescaped in every template and the Content-Security-Policy admits only the app's own script and
style; requests name documents by content id and items by id, both checked against the run, so no path from
a request reaches the file system. Flask routes the requests and waitress serves them (threaded, pure Python).
"""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path

from flask import Flask, Response, abort, jsonify, request

from pipeline.palette import REVIEW_STATUSES
from pipeline.report_html import evidence_view, template_environment
from pipeline.review.store import Decision, ReviewStore, ReviewStoreError, passage_hash
from pipeline.run.store import STORE_FILE, RunStore
from pipeline.types import Coverage, DocumentInfo, ReferenceSet, Status

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Host names a request may use to reach a server bound to the loopback interface.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
DOCUMENT_ID = re.compile(r"^[0-9a-f]{64}$")
TOKEN_HEADER = "X-CSRF-Token"
TEMPLATES = {"index": "review/index.html.j2", "document": "review/document.html.j2"}
ASSETS = {"review.js": "application/javascript", "review.css": "text/css"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
MAX_REQUEST_BYTES = 64 * 1024


def create_app(run_dir: Path, reviews: ReviewStore, reference: ReferenceSet, *,
               allowed_hosts: frozenset[str] = LOOPBACK_NAMES) -> Flask:
    """The Flask app over one run folder's store and one review store."""
    run_store_path = Path(run_dir) / STORE_FILE
    if not run_store_path.is_file():
        raise FileNotFoundError(f"{run_dir} holds no {STORE_FILE}: map a corpus into it first "
                                f"(promise-map map CORPUS --out {run_dir})")
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    token = secrets.token_urlsafe(32)
    environment = template_environment()
    allowed = {host.lower() for host in allowed_hosts}

    def run_store() -> RunStore:
        return RunStore(run_store_path)

    @app.before_request
    def refuse_other_hosts() -> None:
        host = (request.host or "").lower()
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if name not in allowed:
            abort(400, "this review server answers only on the address it was started on")
        if request.method not in ("GET", "HEAD"):
            if not request.is_json or not hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
                abort(403, "a decision needs the page's session token: reload the page")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    def index() -> str:
        with run_store() as store:
            documents = store.documents()
            counts = {info.id: status_counts(store, info.id) for info in documents}
        reviewed = reviewed_counts(reviews.latest())
        rows = [{"info": info, "counts": counts[info.id], "reviewed": reviewed.get(info.id, 0)}
                for info in documents]
        return environment.get_template(TEMPLATES["index"]).render(
            documents=rows, items=len(reference.items), token=token, title="promise-map review",
            reviewed=sum(row["reviewed"] for row in rows), total=len(rows) * len(reference.items))

    @app.get("/documents/<doc_id>")
    def document(doc_id: str) -> str:
        info, coverages = load_document(run_store, doc_id, reference)
        decisions = decisions_by_item(reviews.latest([doc_id]))
        rows = [item_row(number, coverage, decisions.get(coverage.item.id, {}))
                for number, coverage in enumerate(coverages)]
        return environment.get_template(TEMPLATES["document"]).render(
            document=info, rows=rows, token=token, statuses=[status.value for status in REVIEW_STATUSES],
            title=f"{info.name} · promise-map review", reviewed=sum(1 for row in rows if row["decision"]))

    @app.post("/api/decisions")
    def decide_item():
        body = request.get_json(silent=True) or {}
        info, coverage = load_item(run_store, body, reference)
        status, note = str(body.get("status") or ""), str(body.get("note") or "")
        decision = made(Decision, doc_id=info.id, document=info.name, item_id=coverage.item.id,
                        decision=status, note=note, reviewer=str(body.get("reviewer") or ""),
                        machine_status=coverage.machine_status.value, machine_score=coverage.score,
                        evidence_hashes=tuple(passage_hash(e.text) for e in coverage.evidence))
        reviews.add(decision)
        return jsonify({"saved": True, "decided_at": decision.decided_at, "status": status, "note": note,
                        "reviewer": decision.reviewer,
                        "reviewed": reviewed_counts(reviews.latest([info.id])).get(info.id, 0)})

    @app.post("/api/evidence")
    def decide_passage():
        body = request.get_json(silent=True) or {}
        info, coverage = load_item(run_store, body, reference)
        rank = body.get("rank")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= len(coverage.evidence):
            abort(400, "no such evidence passage")
        evidence = coverage.evidence[rank - 1]
        decision = made(Decision, doc_id=info.id, document=info.name, item_id=coverage.item.id,
                        passage_hash=passage_hash(evidence.text), decision=str(body.get("decision") or ""),
                        reviewer=str(body.get("reviewer") or ""), machine_status=coverage.machine_status.value,
                        machine_score=evidence.score, passage_text=evidence.text)
        reviews.add(decision)
        return jsonify({"saved": True, "decided_at": decision.decided_at, "decision": decision.decision})

    @app.get("/favicon.ico")
    def no_icon() -> Response:
        return Response(status=204)  # the browser asks by itself; a 404 would be a console error on every page

    @app.get("/assets/<name>")
    def asset(name: str) -> Response:
        if name not in ASSETS:
            abort(404)
        return Response(asset_source(name), mimetype=ASSETS[name])

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(413)
    def refused(error):
        return jsonify({"saved": False, "error": getattr(error, "description", str(error))}), error.code

    return app


def made(kind, **fields):
    """A value built from request fields, or a 400 saying what is wrong with them."""
    try:
        return kind(**fields)
    except ReviewStoreError as error:
        abort(400, str(error))


def asset_source(name: str) -> str:
    from importlib import resources

    return resources.files("pipeline").joinpath("templates", "review", name).read_text(encoding="utf-8")


def load_document(run_store, doc_id: str, reference: ReferenceSet) -> tuple[DocumentInfo, list[Coverage]]:
    """A document of the run and its verdicts, or 404: the id is checked against the run, never used as a path."""
    if not isinstance(doc_id, str) or not DOCUMENT_ID.match(doc_id):
        abort(404, "no such document in this run")
    with run_store() as store:
        info = next((candidate for candidate in store.documents() if candidate.id == doc_id), None)
        if info is None:
            abort(404, "no such document in this run")
        return info, store.coverages(doc_id, reference)


def load_item(run_store, body: dict, reference: ReferenceSet) -> tuple[DocumentInfo, Coverage]:
    info, coverages = load_document(run_store, body.get("doc_id"), reference)
    coverage = next((c for c in coverages if c.item.id == body.get("item_id")), None)
    if coverage is None:
        abort(400, "no such item in this run")
    return info, coverage


def status_counts(store: RunStore, doc_id: str) -> dict[str, int]:
    counts = dict.fromkeys((status.value for status in Status), 0)
    for _, status in store.document_status_counts().get(doc_id, []):
        counts[status] += 1
    return counts


def reviewed_counts(decisions: list[Decision]) -> dict[str, int]:
    """Per document id, how many of its items have a status decision in force."""
    counts: dict[str, int] = {}
    for decision in decisions:
        if not decision.on_passage and decision.decision:
            counts[decision.doc_id] = counts.get(decision.doc_id, 0) + 1
    return counts


def decisions_by_item(decisions: list[Decision]) -> dict[str, dict]:
    """Item id -> {"item": its decision, "passages": {passage hash: decision}}."""
    found: dict[str, dict] = {}
    for decision in decisions:
        entry = found.setdefault(decision.item_id, {"item": None, "passages": {}})
        if decision.on_passage:
            entry["passages"][decision.passage_hash] = decision
        else:
            entry["item"] = decision
    return found


def item_row(number: int, coverage: Coverage, decided: dict) -> dict:
    """One item as the app shows it: the machine's verdict, its evidence, and the decisions in force on them."""
    item_decision = decided.get("item")
    passages = decided.get("passages", {})
    evidence = [{"view": evidence_view(rank, e), "decision": getattr(passages.get(passage_hash(e.text)),
                                                                     "decision", "")}
                for rank, e in enumerate(coverage.evidence, start=1)]
    near_miss = evidence_view(0, coverage.near_miss) if coverage.near_miss is not None else None
    status = item_decision.decision if item_decision else ""
    return {"number": number, "coverage": coverage, "item": coverage.item, "machine": coverage.machine_status.value,
            "score": f"{coverage.score:.3f}", "evidence": evidence, "near_miss": near_miss,
            "near_miss_reason": coverage.near_miss_reason, "decision": status,
            "note": item_decision.note if item_decision else "",
            "reviewer": item_decision.reviewer if item_decision else "",
            "decided_at": item_decision.decided_at if item_decision else "",
            "state": coverage.review.state if coverage.review else "", "anchor": coverage.item.id}


def serve(app: Flask, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (waitress: threaded, so two tabs or two reviewers are served at once)."""
    from waitress import serve as waitress_serve

    waitress_serve(app, host=host, port=port, threads=4, ident="promise-map review")
