// artclass playground: plain JavaScript over the HTTP/JSON API on the same
// origin (/v1/classify, /v1/classify:batch, /v1/model). No build step, no
// dependencies. Every piece of text from the user or the server reaches the
// page through textContent, never innerHTML.
"use strict";

(() => {
  const API = {
    classify: "v1/classify",
    batch: "v1/classify:batch",
    model: "v1/model",
  };
  // Articles per ClassifyBatch call: well under the server's default limit
  // of 1,000, so that a progress line moves and one slow call holds little;
  // and characters per call, well under the gateway's 32 MiB body limit.
  const BATCH_CHUNK = 100;
  const BATCH_CHARS = 4 << 20;

  // Example articles written for this playground.
  const EXAMPLES = [
    {
      name: "Defence",
      title: "Navy commissions two frigates as Baltic patrols expand",
      text: "The navy commissioned two new frigates on Thursday, the defence ministry said, as allied warships step up patrols in the Baltic Sea. The vessels carry air-defence missiles and anti-submarine helicopters, and will join a NATO task group that has shadowed Russian submarines since the spring. Military officials said the crews had completed months of sea trials and live-fire drills. The defence minister told reporters that the armed forces would add a third frigate next year, part of a procurement plan that raises military spending to two per cent of national output. Opposition lawmakers questioned the cost of the programme but backed the deployment.",
    },
    {
      name: "Elections",
      title: "Record turnout as voters choose a new parliament",
      text: "Polling stations stayed open late on Sunday after long queues formed in several cities, and the electoral commission said turnout was the highest in two decades. Early results showed the governing party losing seats to a centre-left alliance, though no single party appeared to have won a majority. Candidates spent the final week of the campaign arguing over housing and taxes, and opinion polls had pointed to a close race. Observers reported few irregularities, and the commission expects to certify the count by Wednesday. Coalition talks are likely to begin as soon as the final tally of votes is published.",
    },
    {
      name: "Environment",
      title: "Drought shrinks river to record low as heatwave persists",
      text: "Scientists warned on Monday that a summer of drought and extreme heat has pushed the river to its lowest level on record, stranding barges and threatening fish. Water temperatures in some stretches rose above 27 degrees, starving the river of oxygen. Climate researchers said the heatwave was made far more likely by global warming and urged faster cuts to carbon emissions. Farmers downstream have been told to limit irrigation, and conservation groups called for wetlands to be restored so the land can hold more water. The government said it would publish a climate adaptation plan before the autumn.",
    },
    {
      name: "Middle East",
      title: "Ceasefire talks resume in Cairo as aid trucks wait at Rafah",
      text: "Negotiators for Israel and Hamas returned to Cairo on Tuesday for indirect talks on a ceasefire in Gaza, Egyptian officials said, as hundreds of aid trucks waited at the Rafah crossing. Mediators from Egypt and Qatar are pressing both sides to agree a pause in the fighting and an exchange of hostages and prisoners. The United Nations said food and medicine were running short across the Gaza Strip. In the West Bank, Palestinian officials reported clashes with Israeli forces near Jenin. Diplomats in the region said a deal was possible within days but warned that gaps remained.",
    },
  ];

  const $ = (id) => document.getElementById(id);
  const state = { model: null, labels: [], batchRows: [] };

  // el builds an element: el("p", {class: "x"}, "text", child, ...).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "label") node.style.setProperty("--label", labelColor(v));
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // labelColor gives each of the model's labels its own colour, stable for
  // the page's life.
  function labelColor(label) {
    let i = state.labels.indexOf(label);
    if (i < 0) {
      state.labels.push(label);
      i = state.labels.length - 1;
    }
    return `var(--l${i % 6})`;
  }

  const pct = (x) => `${(100 * x).toFixed(x >= 0.995 || x < 0.005 ? 0 : 1)}%`;
  const num = (x) => Number(x).toLocaleString("en");
  const fixed = (x, d = 3) => (typeof x === "number" ? x.toFixed(d) : "—");

  // ---- Talking to the API ----------------------------------------------

  // ApiError is an error response in words a person understands, with the
  // server's field violations kept for marking the fields.
  class ApiError extends Error {
    constructor(message, fields, httpStatus) {
      super(message);
      this.fields = fields || [];
      this.httpStatus = httpStatus || 0;
    }
  }

  async function call(path, body) {
    let resp;
    try {
      resp = await fetch(path, {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError("Could not reach the artclass server. Check that it is running and try again.");
    }
    let data = null;
    try {
      data = await resp.json();
    } catch {
      // A proxy's HTML error page, or an empty body.
    }
    if (!resp.ok) throw explain(resp.status, data);
    return data;
  }

  // FIELD_NAMES are the request fields the server names in its errors.
  const FIELD_NAMES = {
    "article.text": "The article text", text: "The article text",
    "article.title": "The title", title: "The title",
    "article.id": "The id", id: "The id",
    articles: "The batch", body: "The request",
    "filter.top_k": "The number of topics", "filter.min_confidence": "The minimum confidence",
  };

  // explain turns an error response (a google.rpc.Status) into a message.
  function explain(httpStatus, st) {
    const violations = fieldViolations(st);
    if (violations.length) {
      const lines = violations.map((v) => `${FIELD_NAMES[v.field] || `The field “${v.field}”`} ${humanSizes(v.description)}.`);
      return new ApiError(lines.join(" "), violations.map((v) => v.field), httpStatus);
    }
    const msg = st && st.message ? humanSizes(st.message) : "";
    switch (httpStatus) {
      case 413: return new ApiError(`That is too much for one request: ${msg || "it is over the server's size limit"}. Send less text or fewer articles at a time.`, [], httpStatus);
      case 429: return new ApiError("The server is busy. Wait a moment and try again.", [], httpStatus);
      case 503: return new ApiError("The classifier is not ready: it has no model loaded yet, or it is restarting. Try again in a moment.", [], httpStatus);
      case 400: return new ApiError(`The server could not read the request: ${msg}.`, [], httpStatus);
      default: return new ApiError(`Something went wrong on the server (HTTP ${httpStatus}${msg ? `: ${msg}` : ""}).`, [], httpStatus);
    }
  }

  function fieldViolations(st) {
    const out = [];
    for (const d of (st && st.details) || []) {
      for (const v of d.field_violations || d.fieldViolations || []) out.push({ field: v.field, description: v.description });
    }
    return out;
  }

  // humanSizes rewrites "1048577 bytes" as "1.0 MB (1,048,577 bytes)".
  function humanSizes(s) {
    return String(s).replace(/(\d{4,}) bytes/g, (_, n) => {
      const b = Number(n);
      const h = b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`;
      return `${h} (${num(b)} bytes)`;
    });
  }

  // ---- The model card ----------------------------------------------------

  async function loadModel() {
    const card = $("model-card");
    try {
      const { model } = await call(API.model);
      state.model = model;
      for (const l of model.labels) labelColor(l);
      $("model-chip").textContent = `model ${model.version}`;
      renderModel(card, model);
      // For bench/http.sh: when the page is ready to use.
      performance.mark("artclass:model-shown");
    } catch (err) {
      $("model-chip").textContent = "no model";
      card.replaceChildren(el("div", { class: "error" }, err.message));
    }
  }

  function renderModel(card, m) {
    const cv = m.cross_validation || {};
    const perLabel = Object.fromEntries((cv.labels || []).map((l) => [l.label, l]));
    const created = m.create_time ? new Date(m.create_time).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "—";
    const facts = [
      ["Version", m.version, "mono"], ["Algorithm", m.algorithm || "—"], ["Trained", created],
      ["Training articles", num(m.samples)], ["About no topic", num(m.negatives)], ["Vocabulary", `${num(m.terms)} terms`],
      ["Macro-F1 (cross-validated)", fixed(cv.macro_f1)], ["Micro-F1", fixed(cv.micro_f1)],
      ["Exact match", fixed(cv.exact_match)], ["Calibration error (ECE)", fixed(cv.expected_calibration_error)],
    ];
    const dl = el("dl", {}, facts.map(([k, v, cls]) => el("div", {}, el("dt", {}, k), el("dd", { class: cls }, v))));
    const rows = m.labels.map((l) => {
      const lm = perLabel[l] || {};
      return el("tr", {},
        el("th", { scope: "row" }, el("span", { class: "tag", label: l }, l)),
        el("td", { class: "num" }, num((m.label_counts || {})[l] || 0)),
        el("td", { class: "num" }, fixed((m.thresholds || {})[l], 2)),
        el("td", { class: "num" }, fixed(lm.precision)),
        el("td", { class: "num" }, fixed(lm.recall)),
        el("td", { class: "num" }, fixed(lm.f1)));
    });
    const table = el("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-labelledby": "labels-caption" },
      el("table", {},
        el("caption", { id: "labels-caption" }, "Each topic: its training articles, its decision threshold, and its cross-validated precision, recall and F1"),
        el("thead", {}, el("tr", {}, ["Topic", "Articles", "Threshold", "Precision", "Recall", "F1"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows)));
    card.replaceChildren(dl, table);
  }

  // ---- Classifying one article --------------------------------------------

  function showFormError(err) {
    const box = $("form-error");
    box.replaceChildren(el("p", {}, err.message));
    box.hidden = false;
    const fields = err.fields || [];
    const bad = { text: fields.some((f) => /(^|\.)text$/.test(f)), title: fields.some((f) => /(^|\.)title$/.test(f)) };
    $("text").setAttribute("aria-invalid", String(bad.text));
    $("title").setAttribute("aria-invalid", String(bad.title));
    if (bad.text) $("text").focus();
    else if (bad.title) $("title").focus();
  }

  function clearFormError() {
    $("form-error").hidden = true;
    $("form-error").replaceChildren();
    $("text").removeAttribute("aria-invalid");
    $("title").removeAttribute("aria-invalid");
  }

  async function classify() {
    clearFormError();
    const title = $("title").value;
    const text = $("text").value;
    const button = $("classify-btn");
    const result = $("result");
    button.disabled = true;
    result.setAttribute("aria-busy", "true");
    try {
      const resp = await call(API.classify, { article: { title, text } });
      renderResult(resp, title, text);
    } catch (err) {
      showFormError(err);
      $("result-summary").replaceChildren(el("p", { class: "empty" }, "No verdict: fix the problem shown under the form."));
      $("result-body").replaceChildren();
    } finally {
      button.disabled = false;
      result.setAttribute("aria-busy", "false");
    }
  }

  function renderResult(r, title, text) {
    const thresholds = (state.model && state.model.thresholds) || {};
    const assigned = r.topics.filter((t) => t.assigned);
    const summary = el("div", {},
      el("p", { class: "verdict", id: "verdict" },
        assigned.length ? ["About ", assigned.map((t) => el("span", { class: "tag", label: t.label, "data-label": t.label }, t.label))] : "About none of the topics"),
      el("p", { class: "coverage" }, coverageLine(r.coverage)));
    const body = [];
    if ((r.warnings || []).includes("WARNING_LOW_COVERAGE")) {
      body.push(el("div", { class: "warning", role: "note", id: "coverage-warning" },
        "Too little of this text is in the model's vocabulary (another language, code or very short text), so the confidences mean little and no topic is assigned."));
    }
    body.push(el("ul", { class: "topics", id: "topics" }, r.topics.map((t) => topicRow(t, thresholds[t.label]))));
    const why = assigned.filter((t) => (t.terms || []).length);
    if (why.length) {
      body.push(el("div", { class: "why" },
        el("h3", {}, "Why"),
        why.map((t) => el("div", { class: "why-row", label: t.label, "data-label": t.label },
          el("span", { class: "tag", label: t.label }, t.label),
          t.terms.map((term) => el("span", { class: "term", label: t.label }, term.term))))));
    }
    body.push(el("div", { class: "evidence" },
      el("h3", {}, "The text, with the words behind each topic marked"),
      el("div", { class: "evidence-text", id: "evidence", tabindex: 0 },
        title ? el("span", { class: "title" }, highlight(title, why)) : null,
        highlight(text, why))));
    $("result-summary").replaceChildren(summary);
    $("result-body").replaceChildren(...body);
  }

  function coverageLine(c) {
    if (!c || !c.tokens) return "The text has no words the model can read.";
    return `The model knows ${num(c.known_tokens)} of the ${num(c.tokens)} words it read (${pct(c.known_share)}).`;
  }

  function topicRow(t, threshold) {
    const hasThreshold = typeof threshold === "number";
    const name = `${t.label}: confidence ${pct(t.confidence)}${hasThreshold ? `, threshold ${pct(threshold)}` : ""}, ${t.assigned ? "assigned" : "not assigned"}`;
    const fill = el("div", { class: "fill" });
    fill.style.width = `${(100 * t.confidence).toFixed(2)}%`;
    const bar = el("div", {
      class: "bar", role: "meter", "aria-label": name,
      "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": (100 * t.confidence).toFixed(1),
    }, fill);
    if (hasThreshold) {
      const tick = el("div", { class: "threshold", title: `threshold ${pct(threshold)}` });
      tick.style.left = `${(100 * threshold).toFixed(2)}%`;
      bar.append(tick);
    }
    return el("li", { class: t.assigned ? "topic assigned" : "topic", label: t.label, "data-label": t.label, "data-confidence": t.confidence },
      el("div", { class: "topic-head" },
        el("span", {}, el("span", { class: "topic-name" }, t.label), t.assigned ? el("span", { class: "badge" }, "assigned") : null),
        el("span", { class: "topic-value" }, pct(t.confidence))),
      bar,
      hasThreshold ? el("div", { class: "threshold-note" }, `threshold ${pct(threshold)}`) : null);
  }

  // highlight returns text as nodes with each assigned label's terms marked.
  // A term is a lower-cased word or two words the tokeniser saw side by
  // side once stop words were dropped, so a pair may have up to two short
  // words between its halves in the text ("secretary of state").
  function highlight(text, topics) {
    const spans = [];
    for (const t of topics) {
      for (const { term } of t.terms) {
        const words = term.split(" ").map(escapeRegExp);
        const body = words.join("[^\\p{L}\\p{N}]+(?:[\\p{L}\\p{N}]{1,4}[^\\p{L}\\p{N}]+){0,2}");
        let re;
        try {
          re = new RegExp(`(?<![\\p{L}\\p{N}])${body}(?![\\p{L}\\p{N}])`, "giu");
        } catch {
          continue;
        }
        for (const m of text.matchAll(re)) spans.push({ start: m.index, end: m.index + m[0].length, label: t.label, term });
      }
    }
    // Earlier first, then longer; a span overlapping a kept one is dropped.
    spans.sort((a, b) => a.start - b.start || b.end - a.end);
    const out = [];
    let at = 0;
    for (const s of spans) {
      if (s.start < at) continue;
      if (s.start > at) out.push(document.createTextNode(text.slice(at, s.start)));
      out.push(el("mark", { label: s.label, "data-label": s.label, title: `${s.label}: “${s.term}”` }, text.slice(s.start, s.end)));
      at = s.end;
    }
    if (at < text.length) out.push(document.createTextNode(text.slice(at)));
    return out;
  }

  function escapeRegExp(s) {
    return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  }

  // ---- Batch ---------------------------------------------------------------

  // readArticles parses a dropped file into articles, or rows with an error
  // for lines that cannot be read.
  async function readArticles(file) {
    const text = await file.text();
    const name = file.name;
    const ext = name.toLowerCase().split(".").pop();
    if (ext === "jsonl" || ext === "ndjson") return parseJSONL(text, name);
    if (ext === "csv") return parseCSVFile(text, name);
    if (ext === "txt") {
      const nl = text.indexOf("\n");
      const title = nl < 0 ? "" : text.slice(0, nl).trim();
      return [{ id: name, title, text: nl < 0 ? text : text.slice(nl + 1) }];
    }
    throw new Error(`${name} is not a .txt, .jsonl or .csv file.`);
  }

  function parseJSONL(text, name) {
    const out = [];
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      const where = `${name}:${i + 1}`;
      let v;
      try {
        v = JSON.parse(line);
      } catch {
        out.push({ id: where, error: `Line ${i + 1} of ${name} is not valid JSON.` });
        return;
      }
      if (!v || typeof v !== "object" || typeof v.text !== "string") {
        out.push({ id: where, error: `Line ${i + 1} of ${name} has no "text" string.` });
        return;
      }
      out.push({ id: v.id !== undefined && v.id !== "" ? String(v.id) : where, title: typeof v.title === "string" ? v.title : "", text: v.text });
    });
    return out;
  }

  function parseCSVFile(text, name) {
    const rows = parseCSV(text);
    if (!rows.length) return [];
    const header = rows[0].map((h) => h.trim().toLowerCase());
    const col = (n) => header.indexOf(n);
    if (col("text") < 0) throw new Error(`${name} has no "text" column in its header row (it has: ${header.join(", ") || "nothing"}).`);
    return rows.slice(1).filter((r) => r.some((c) => c.trim())).map((r, i) => ({
      id: col("id") >= 0 && r[col("id")] ? r[col("id")] : `${name}:${i + 2}`,
      title: col("title") >= 0 ? r[col("title")] || "" : "",
      text: r[col("text")] || "",
    }));
  }

  // parseCSV reads RFC 4180 CSV: quoted fields may hold commas, quotes
  // (doubled) and line breaks.
  function parseCSV(text) {
    const rows = [];
    let row = [], field = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { row.push(field); field = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field); rows.push(row); row = []; field = "";
      } else field += c;
    }
    if (field !== "" || row.length) { row.push(field); rows.push(row); }
    return rows;
  }

  async function classifyFiles(files) {
    const status = $("batch-status");
    const errBox = $("batch-error");
    errBox.hidden = true;
    let items = [];
    const problems = [];
    for (const f of files) {
      try {
        items = items.concat(await readArticles(f));
      } catch (err) {
        problems.push(err.message);
      }
    }
    if (problems.length) {
      errBox.replaceChildren(el("p", {}, problems.join(" ")));
      errBox.hidden = false;
    }
    if (!items.length) {
      status.textContent = "No articles found in the files.";
      return;
    }
    state.batchRows = [];
    const todo = items.filter((a) => !a.error);
    let done = 0;
    status.textContent = `Classifying ${num(todo.length)} articles…`;
    try {
      for (let i = 0, n; i < todo.length; i += n) {
        n = chunkLength(todo, i);
        const chunk = todo.slice(i, i + n);
        const resp = await call(API.batch, { articles: chunk.map(({ id, title, text }) => ({ id, title, text })) });
        resp.results.forEach((res, j) => { chunk[j].result = res; });
        done += chunk.length;
        status.textContent = `Classified ${num(done)} of ${num(todo.length)} articles…`;
      }
    } catch (err) {
      errBox.replaceChildren(el("p", {}, err.message));
      errBox.hidden = false;
    }
    state.batchRows = items.map(toRow);
    renderBatch();
    const failed = state.batchRows.filter((r) => r.error).length;
    status.textContent = `${num(state.batchRows.length - failed)} of ${num(state.batchRows.length)} articles classified` +
      (failed ? `; ${num(failed)} could not be (see the last column).` : ".");
  }

  // chunkLength is how many articles from items[start] go in one call: at
  // most BATCH_CHUNK, and at most BATCH_CHARS of text unless one article
  // alone is longer (the server then judges it).
  function chunkLength(items, start) {
    let n = 0, chars = 0;
    while (start + n < items.length && n < BATCH_CHUNK) {
      const a = items[start + n];
      chars += a.text.length + a.title.length;
      if (n > 0 && chars > BATCH_CHARS) break;
      n++;
    }
    return n;
  }

  // toRow flattens an article and its outcome into a table row.
  function toRow(a) {
    const failed = (id, error) => ({ id, labels: [], topics: [], warnings: [], error });
    if (a.error) return failed(a.id, a.error);
    const res = a.result;
    if (!res) return failed(a.id, "Not classified: the request failed (see the message above).");
    if (res.error) return failed(res.id || a.id, explain(400, res.error).message);
    const c = res.classification;
    return { id: res.id || a.id, labels: c.labels, topics: c.topics.map(({ label, confidence, assigned }) => ({ label, confidence, assigned })), warnings: c.warnings || [], error: "" };
  }

  function batchLabels() {
    const seen = new Set(state.model ? state.model.labels : []);
    for (const r of state.batchRows) for (const t of r.topics) seen.add(t.label);
    return [...seen];
  }

  function renderBatch() {
    const labels = batchLabels();
    const table = $("batch-table");
    table.tHead.replaceChildren(el("tr", {},
      el("th", { scope: "col" }, "Id"), el("th", { scope: "col" }, "Topics"),
      labels.map((l) => el("th", { scope: "col" }, l)), el("th", { scope: "col" }, "Problem")));
    table.tBodies[0].replaceChildren(...state.batchRows.map((r) => {
      const by = Object.fromEntries(r.topics.map((t) => [t.label, t]));
      return el("tr", { "data-id": r.id },
        el("th", { scope: "row" }, r.id),
        el("td", {}, r.labels.length ? r.labels.map((l) => el("span", { class: "tag", label: l }, l)) : (r.error ? "" : "none")),
        labels.map((l) => {
          const t = by[l];
          return el("td", { class: t && t.assigned ? "num assigned" : "num", label: l }, t ? pct(t.confidence) : "");
        }),
        el("td", { class: r.error ? "err" : "" }, r.error || (r.warnings.includes("WARNING_LOW_COVERAGE") ? "low coverage" : "")));
    }));
    $("batch-wrap").hidden = false;
    $("batch-actions").hidden = false;
  }

  function download(name, type, content) {
    const url = URL.createObjectURL(new Blob([content], { type }));
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function csvCell(v) {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }

  function batchCSV() {
    const labels = batchLabels();
    const lines = [["id", "labels", ...labels, "error"].map(csvCell).join(",")];
    for (const r of state.batchRows) {
      const by = Object.fromEntries(r.topics.map((t) => [t.label, t.confidence]));
      lines.push([r.id, r.labels.join(";"), ...labels.map((l) => (l in by ? by[l].toFixed(4) : "")), r.error].map(csvCell).join(","));
    }
    return lines.join("\r\n") + "\r\n";
  }

  function batchJSONL() {
    return state.batchRows.map((r) => JSON.stringify(r.error ? { id: r.id, error: r.error } : { id: r.id, labels: r.labels, topics: r.topics, warnings: r.warnings })).join("\n") + "\n";
  }

  // ---- Wiring --------------------------------------------------------------

  function setup() {
    const examples = $("examples");
    EXAMPLES.forEach((ex, i) => {
      examples.append(el("button", { type: "button", "data-example": i, "aria-label": `Classify the ${ex.name} example: ${ex.title}` }, ex.name));
    });
    examples.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-example]");
      if (!b) return;
      const ex = EXAMPLES[Number(b.dataset.example)];
      $("title").value = ex.title;
      $("text").value = ex.text;
      classify();
    });
    $("classify-form").addEventListener("submit", (e) => {
      e.preventDefault();
      classify();
    });
    $("text").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        classify();
      }
    });
    $("clear-btn").addEventListener("click", () => {
      $("title").value = "";
      $("text").value = "";
      clearFormError();
      $("text").focus();
    });

    const drop = $("drop");
    const input = $("files");
    input.addEventListener("change", () => {
      if (input.files.length) classifyFiles([...input.files]);
      input.value = "";
    });
    for (const ev of ["dragenter", "dragover"]) {
      drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
    }
    for (const ev of ["dragleave", "drop"]) {
      drop.addEventListener(ev, () => drop.classList.remove("over"));
    }
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) classifyFiles([...e.dataTransfer.files]);
    });
    $("download-csv").addEventListener("click", () => download("artclass-results.csv", "text/csv", batchCSV()));
    $("download-jsonl").addEventListener("click", () => download("artclass-results.jsonl", "application/x-ndjson", batchJSONL()));

    loadModel();
  }

  setup();
})();
