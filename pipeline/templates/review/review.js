// promise-map review: decisions are sent as JSON with the page's session token; text is set with textContent only.
"use strict";
(function () {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const nameShown = document.getElementById("reviewer-name");
  const dialog = document.getElementById("reviewer-dialog");
  const input = document.getElementById("reviewer-input");
  const KEY = "promise-map-reviewer";

  function reviewer() { return sessionStorage.getItem(KEY) || ""; }
  function showReviewer() { nameShown.textContent = reviewer() || "(not set)"; }
  function askReviewer() { input.value = reviewer(); dialog.showModal(); input.focus(); }
  document.getElementById("reviewer-form").addEventListener("submit", function () {
    const name = input.value.trim();
    if (name) { sessionStorage.setItem(KEY, name); showReviewer(); }
  });
  dialog.addEventListener("cancel", function (event) { if (!reviewer()) event.preventDefault(); });
  document.getElementById("change-reviewer").addEventListener("click", askReviewer);
  showReviewer();

  const list = document.getElementById("items");
  if (!list) return;
  if (!reviewer()) askReviewer();
  const doc = list.dataset.doc;
  const items = Array.from(list.querySelectorAll("li.review-item"));
  const filter = document.getElementById("filter");
  const reviewedCount = document.getElementById("reviewed-count");

  async function send(path, body) {
    if (!reviewer()) { askReviewer(); throw new Error("no reviewer"); }
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify(Object.assign({doc_id: doc, reviewer: reviewer()}, body)),
    });
    const answer = await response.json();
    if (!response.ok || !answer.saved) throw new Error(answer.error || response.statusText);
    return answer;
  }

  function statusOf(item) {
    const checked = item.querySelector('input[type="radio"]:checked');
    return checked ? checked.value : "";
  }

  async function saveItem(item) {
    const said = item.querySelector(".decided");
    const status = statusOf(item), note = item.querySelector("textarea").value;
    if (item.dataset.savedStatus === status && item.dataset.savedNote === note) return;  // nothing new to record
    said.textContent = "saving…";
    try {
      const answer = await send("/api/decisions", {item_id: item.dataset.item, status: status, note: note});
      item.dataset.savedStatus = answer.status;
      item.dataset.savedNote = answer.note;
      item.dataset.decision = answer.status;
      said.textContent = "Saved: " + (answer.status.replace("_", " ") || "note") + " by " + answer.reviewer + ", " +
        answer.decided_at;
      reviewedCount.textContent = String(answer.reviewed);
    } catch (error) { said.textContent = "Not saved: " + error.message; }
  }

  async function decidePassage(passage, decision) {
    const item = passage.closest("li.review-item");
    const shown = passage.querySelector(".passage-decision");
    try {
      const answer = await send("/api/evidence", {item_id: item.dataset.item, rank: Number(passage.dataset.rank),
                                                  decision: decision});
      passage.dataset.decision = answer.decision;
      shown.textContent = answer.decision || "undecided";
    } catch (error) { shown.textContent = "not saved: " + error.message; }
  }

  items.forEach(function (item) {
    item.dataset.savedStatus = statusOf(item);
    item.dataset.savedNote = item.querySelector("textarea").value;
    item.querySelectorAll('input[type="radio"]').forEach(function (radio) {
      radio.addEventListener("change", function () { saveItem(item); });
    });
    item.querySelector("textarea").addEventListener("change", function () { saveItem(item); });
    item.querySelectorAll("button[data-passage]").forEach(function (button) {
      button.addEventListener("click", function () {
        decidePassage(button.closest("li.passage"), button.dataset.passage);
      });
    });
    item.addEventListener("click", function () { setCurrent(item, false); });
  });

  function visible() { return items.filter(function (item) { return !item.hidden; }); }
  function current() { return list.querySelector("li.review-item.current") || visible()[0]; }
  function setCurrent(item, scroll) {
    if (!item) return;
    items.forEach(function (other) { other.classList.toggle("current", other === item); });
    if (scroll) { item.focus({preventScroll: true}); item.scrollIntoView({block: "start"}); }
  }
  function move(step) {
    const shown = visible();
    const index = shown.indexOf(current());
    setCurrent(shown[Math.min(shown.length - 1, Math.max(0, index + step))], true);
  }
  function currentPassage(item) {
    return item.querySelector("li.passage.current-passage") || item.querySelector("li.passage");
  }
  function nextPassage(item, passage) {
    const passages = Array.from(item.querySelectorAll("li.passage"));
    const next = passages[passages.indexOf(passage) + 1];
    if (next) { passage.classList.remove("current-passage"); next.classList.add("current-passage"); }
  }

  function applyFilter() {
    const chosen = filter.value;
    items.forEach(function (item) {
      const decision = item.dataset.decision, machine = item.dataset.machine;
      item.hidden = (chosen === "unreviewed" && decision !== "") ||
        (chosen === "machine-covered" && machine !== "covered" && machine !== "partial") ||
        (chosen === "disagreements" && (decision === "" || decision === machine));
    });
    if (current() && current().hidden) setCurrent(visible()[0], false);
  }
  filter.addEventListener("change", applyFilter);

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey && event.key === "Enter" && event.target.tagName === "TEXTAREA") {
      saveItem(event.target.closest("li.review-item")); return;
    }
    if (event.target.closest("input, textarea, select, dialog") || event.ctrlKey || event.metaKey || event.altKey) return;
    const item = current();
    if (!item) return;
    if (event.key === "j") { move(1); }
    else if (event.key === "k") { move(-1); }
    else if (["1", "2", "3", "4"].includes(event.key)) {
      const radio = item.querySelectorAll('input[type="radio"]')[Number(event.key) - 1];
      if (radio) { radio.checked = true; saveItem(item); }
    } else if (event.key === "a" || event.key === "r") {
      const passage = currentPassage(item);
      if (passage) { decidePassage(passage, event.key === "a" ? "accepted" : "rejected"); nextPassage(item, passage); }
    } else if (event.key === "n") { item.querySelector("textarea").focus(); }
    else { return; }
    event.preventDefault();
  });
})();
