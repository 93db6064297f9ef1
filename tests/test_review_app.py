"""The review app in a real browser: a reviewer's decisions are saved, shown again, and refused without the token.

A three-document corpus is mapped once (lexical classifier: no model to train) and the app is served over a
fresh review store for each test, on 127.0.0.1 in a background thread. Debian's headless Chromium, driven by
Playwright, opens a document's page, names the reviewer, sets statuses, rejects passages and writes notes,
with the mouse and with the keyboard shortcuts; the filters and the progress counter follow; a hostile
document's markup stays text. The token and Host checks use Flask's test client.
Skipped, saying why, where Chromium or the Playwright package is not installed (see tests/test_browser.py).
"""

import re
import threading
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner
from werkzeug.serving import make_server

from pipeline.cli import app
from pipeline.cli_review import run_reference
from pipeline.review.app import TOKEN_HEADER, create_app
from pipeline.review.store import Decision, ReviewStore
from pipeline.run.store import STORE_FILE, RunStore
from tests.test_browser import LAUNCH_ARGS, VIEWPORT, chromium_executable, sync_api

pytestmark = pytest.mark.slow
expect = sync_api.expect

HOSTILE = ('<script>window.__pwned=1</script>', '<img src=x onerror="window.__pwned=1">',
           '<a href="javascript:window.__pwned=1">read more</a>')
CORPUS = {
    "plan.txt": "Our Promise Plan\n\nBrothers and sisters will be kept together wherever it is safe to do so. "
                "Siblings who are separated will keep in touch.\n\nWe will listen to children and young people. "
                "Children's views will shape every decision about their care, and we will ask what matters to "
                "them.\n\nYoung people leaving care will have a trusted adult who stays in their life. Care "
                "experienced young people will get help with housing.\n",
    "care.txt": "Children's Services Update\n\nListening to children: every child in care will be heard, and their "
                "voice will be recorded in their plan.\n\nKeeping siblings together: brothers and sisters will "
                "live together when they want to.\n\nWe will reduce the stigma of care language and stop using "
                "words like placement.\n",
    "hostile.txt": f"Hostile notes {HOSTILE[0]}\n\nBrothers and sisters {HOSTILE[1]} will be kept together and "
                   f"siblings will live together in care.\n\nListen to children {HOSTILE[2]} and their views will "
                   "shape decisions about their care.\n",
}
REVIEWER, NOTE = "Ada Reviewer", "Only the heading says so."
CURRENT = re.compile(r"\bcurrent\b")


@dataclass
class Doc:
    id: str
    order: list[str]             # item ids as the page lists them
    machine: dict[str, str]      # item id -> machine status
    with_evidence: list[str]     # items with evidence passages, in page order


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    corpus, out = tmp_path_factory.mktemp("review-corpus"), tmp_path_factory.mktemp("review-run")
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--quiet", "--classifier", "lexical"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def reference(run_dir):
    return run_reference(run_dir, [], None)  # the run's own frameworks, checked against its recorded sha256


@pytest.fixture(scope="module")
def documents(run_dir, reference):
    found = {}
    with RunStore(run_dir / STORE_FILE) as store:
        for info in store.documents():
            coverages = store.coverages(info.id, reference)
            found[info.name] = Doc(info.id, [c.item.id for c in coverages],
                                   {c.item.id: c.machine_status.value for c in coverages},
                                   [c.item.id for c in coverages if c.evidence])
    assert set(found) == set(CORPUS)
    for doc in found.values():  # the lexical classifier found something in every document, or the tests prove nothing
        assert "covered" in doc.machine.values() and len(doc.with_evidence) >= 2
    return found


@pytest.fixture
def served(run_dir, reference, tmp_path):
    store = ReviewStore(tmp_path / "reviews.sqlite")
    server = make_server("127.0.0.1", 0, create_app(run_dir, store, reference), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", store=store)
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); the review app checks need it")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def view(browser):
    """A page in a context of its own, recording console errors, page errors and every URL it asked for."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    # Chromium asks for /favicon.ico on its own; the app has none, and its 404 would be a console error.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    opened = SimpleNamespace(page=context.new_page(), console_errors=[], page_errors=[], requests=[])
    opened.page.on("console", lambda message: message.type == "error" and opened.console_errors.append(message.text))
    opened.page.on("pageerror", lambda error: opened.page_errors.append(str(error)))
    opened.page.on("request", lambda request: opened.requests.append(request.url))
    yield opened
    context.close()


def open_document(view, served, name):
    """From the index, a document's page by its link, with the reviewer named in the first-visit dialog."""
    page = view.page
    page.goto(served.url + "/")
    page.get_by_role("link", name=name, exact=True).click()
    page.wait_for_url("**/documents/*")
    expect(page.locator("#reviewer-dialog")).to_be_visible()
    page.locator("#reviewer-input").fill(REVIEWER)
    page.locator("#reviewer-save").click()
    expect(page.locator("#reviewer-dialog")).to_be_hidden()
    expect(page.locator("#reviewer-name")).to_have_text(REVIEWER)
    return page


def item(page, item_id):
    return page.locator(f"li.review-item[data-item='{item_id}']")


def saved(page, action, path="/api/decisions"):
    """Do `action`, wait for the POST it makes to `path` and check the server said saved."""
    with page.expect_response(lambda response: response.url.endswith(path)) as answer:
        action()
    assert answer.value.ok and answer.value.json()["saved"] is True, answer.value.text()


def in_force(served, doc):
    """The store's decisions in force for `doc`: (item id -> decision on the item, item id -> passage decision)."""
    decisions = served.store.latest([doc.id])
    return ({d.item_id: d for d in decisions if not d.on_passage}, {d.item_id: d for d in decisions if d.on_passage})


def shown_items(page):
    return page.locator("li.review-item:visible").evaluate_all("items => items.map(item => item.dataset.item)")


def test_decisions_made_on_the_page_are_saved_and_shown_after_a_reload(view, served, documents):
    doc = documents["plan.txt"]
    page, target = open_document(view, served, "plan.txt"), doc.with_evidence[0]
    row = item(page, target)
    saved(page, lambda: row.locator("input[type=radio][value='missing']").click())
    passage = row.locator("li.passage").first
    saved(page, lambda: passage.get_by_role("button", name="Reject").click(), "/api/evidence")
    expect(passage.locator(".passage-decision")).to_have_text("rejected")
    row.locator("textarea").fill(NOTE)
    saved(page, lambda: row.locator("textarea").blur())
    for reloaded in (False, True):
        if reloaded:
            page.reload()
        expect(row.locator(".decided")).to_contain_text(f"Saved: missing by {REVIEWER}")
        expect(row.locator("input[type=radio][value='missing']")).to_be_checked()
        expect(row.locator("textarea")).to_have_value(NOTE)
        expect(passage.locator(".passage-decision")).to_have_text("rejected")
    items, passages = in_force(served, doc)
    assert [(key, d.decision, d.note, d.reviewer) for key, d in items.items()] == [(target, "missing", NOTE, REVIEWER)]
    assert [(key, d.decision, d.reviewer) for key, d in passages.items()] == [(target, "rejected", REVIEWER)]
    assert view.console_errors == [] and view.page_errors == []


def test_keyboard_shortcuts_move_set_the_status_and_reject_a_passage(view, served, documents):
    doc = documents["plan.txt"]
    page, rows = open_document(view, served, "plan.txt"), view.page.locator("li.review-item")
    expect(rows.nth(0)).to_have_class(CURRENT)
    page.keyboard.press("j")
    expect(page.locator("li.review-item.current")).to_have_attribute("data-item", doc.order[1])
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(CURRENT)
    saved(page, lambda: page.keyboard.press("2"))
    expect(rows.nth(0).locator("input[type=radio]").nth(1)).to_be_checked()
    target = doc.with_evidence[1]
    for _ in range(doc.order.index(target)):
        page.keyboard.press("j")
    expect(item(page, target)).to_have_class(CURRENT)
    saved(page, lambda: page.keyboard.press("r"), "/api/evidence")
    expect(item(page, target).locator(".passage-decision").first).to_have_text("rejected")
    items, passages = in_force(served, doc)
    assert {key: d.decision for key, d in items.items()} == {doc.order[0]: "partial"}
    assert {key: d.decision for key, d in passages.items()} == {target: "rejected"}


def test_filters_show_unreviewed_disagreeing_and_machine_covered_items(view, served, documents):
    doc = documents["plan.txt"]
    machine_found = [key for key in doc.order if doc.machine[key] in ("covered", "partial")]
    covered = next(key for key in machine_found if doc.machine[key] == "covered")
    partial = next(key for key in machine_found if doc.machine[key] == "partial")
    missing = next(key for key in doc.order if doc.machine[key] == "missing")
    served.store.add([Decision(doc_id=doc.id, document="plan.txt", item_id=key, decision=status, reviewer="Earlier",
                               machine_status=doc.machine[key]) for key, status in
                      ((covered, "missing"), (partial, "partial"))])
    page = open_document(view, served, "plan.txt")
    saved(page, lambda: item(page, missing).locator("input[value='not_applicable']").click())  # a decision made here
    reviewed = {covered, partial, missing}
    page.locator("#filter").select_option("unreviewed")
    assert shown_items(page) == [key for key in doc.order if key not in reviewed]
    page.locator("#filter").select_option("disagreements")
    assert shown_items(page) == [key for key in doc.order if key in (covered, missing)]
    page.locator("#filter").select_option("machine-covered")
    assert shown_items(page) == machine_found
    page.locator("#filter").select_option("")
    assert shown_items(page) == doc.order


def test_a_hostile_documents_markup_is_shown_as_text_and_never_runs(view, served, documents):
    page = open_document(view, served, "hostile.txt")
    page.wait_for_load_state("networkidle")
    text = page.locator("main").text_content()
    for payload in HOSTILE:
        assert payload in text
    assert page.locator("#items blockquote").count() >= 2  # evidence and near misses were shown
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("main script, main img, main a[href^='javascript:']").count() == 0
    assert view.console_errors == [] and view.page_errors == []
    assert view.requests and all(url.startswith(served.url + "/") for url in view.requests), view.requests
    assert not any(url.endswith("/x") for url in view.requests)


def test_decisions_need_the_page_token_and_a_loopback_host(run_dir, reference, documents, tmp_path):
    store = ReviewStore(tmp_path / "reviews.sqlite")
    client = create_app(run_dir, store, reference).test_client()
    doc = documents["plan.txt"]
    html = client.get(f"/documents/{doc.id}").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)
    body = {"doc_id": doc.id, "item_id": doc.order[0], "status": "covered", "reviewer": REVIEWER}
    assert client.post("/api/decisions", json=body).status_code == 403
    assert client.post("/api/decisions", json=body, headers={TOKEN_HEADER: "not-the-token"}).status_code == 403
    assert client.post("/api/decisions", data=str(body), content_type="text/plain",
                       headers={TOKEN_HEADER: token}).status_code == 403
    for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example"):
        assert client.get("/", headers={"Host": host}).status_code == 400, host
        assert client.post("/api/decisions", json=body, headers={TOKEN_HEADER: token, "Host": host}).status_code == 400
    assert store.count() == 0
    assert client.post("/api/decisions", json=body, headers={TOKEN_HEADER: token}).status_code == 200
    assert [d.decision for d in store.latest([doc.id])] == ["covered"]


def test_the_progress_counter_counts_an_item_once_when_its_status_is_set(view, served, documents):
    doc = documents["plan.txt"]
    page, count = open_document(view, served, "plan.txt"), view.page.locator("#reviewed-count")
    expect(count).to_have_text("0")
    saved(page, lambda: item(page, doc.order[2]).locator("input[value='missing']").click())
    expect(count).to_have_text("1")
    saved(page, lambda: item(page, doc.order[2]).locator("input[value='covered']").click())
    expect(count).to_have_text("1")
    page.reload()
    expect(count).to_have_text("1")
