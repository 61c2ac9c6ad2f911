// The VoxQueue console: a page of the API itself, talking to /v1 with the key the user signed in
// with. No framework and no build step; nothing is loaded from another host, so it works air-gapped.
// The key is kept in sessionStorage (this tab) and sent as a bearer token, never in a URL: files
// are fetched with it and saved from memory. Progress is long-polled (one request waits for the
// next change), never polled in a loop.
"use strict";

const KEY = "voxq.key";
const $ = (id) => document.getElementById(id);
const state = { batch: null, linesOffset: 0, olderThan: null, follow: 0 };

function key() { return sessionStorage.getItem(KEY); }

function say(text) { $("message").textContent = text || ""; }
function fail(text) { $("error").textContent = text || ""; }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${key()}` }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401 && path !== "/v1/usage") { signOut("这个密钥无效 That key is not valid."); }
  if (!response.ok && response.status !== 202) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, message);
  }
  return response;
}

const json = async (path, options) => (await api(path, options)).json();

async function guarded(button, work) {
  fail("");
  if (button) button.disabled = true;
  try { await work(); } catch (err) { fail(err.message); } finally { if (button) button.disabled = false; }
}

// --- pages -------------------------------------------------------------------------------------

const PAGES = ["sign-in", "batches", "batch", "upload", "say", "voices", "lexicon", "usage"];

function show(page) {
  for (const name of PAGES) {
    const section = $(`${name}-page`);
    section.hidden = name !== page;
    // A page out of sight keeps no test ids: "batch-status" names the one the user sees.
    for (const el of section.querySelectorAll("[data-testid], [data-hidden-testid]")) {
      if (section.hidden && el.dataset.testid) { el.dataset.hiddenTestid = el.dataset.testid; delete el.dataset.testid; }
      if (!section.hidden && el.dataset.hiddenTestid) { el.dataset.testid = el.dataset.hiddenTestid; delete el.dataset.hiddenTestid; }
    }
  }
  $("nav").hidden = page === "sign-in";
}

async function route() {
  fail("");
  state.follow += 1;  // stops following the batch page's progress when it is left
  if (!key()) { show("sign-in"); return; }
  const [page, arg] = (location.hash.slice(1) || "batches").split("/");
  if (page === "batch" && arg) { show("batch"); await guarded(null, () => openBatch(arg)); return; }
  const loaders = { batches: loadBatches, upload: async () => {}, say: async () => {}, voices: loadVoices,
    lexicon: loadLexicon, usage: loadUsage };
  const name = page in loaders ? page : "batches";
  show(name);
  await guarded(null, loaders[name]);
}

function signOut(reason) {
  sessionStorage.removeItem(KEY);
  location.hash = "";
  show("sign-in");
  fail(reason || "");
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const button = event.submitter;
  guarded(button, async () => {
    const candidate = $("api-key").value.trim();
    const response = await fetch("/v1/usage", { headers: { Authorization: `Bearer ${candidate}` } });
    if (response.status === 401) throw new Error("这个密钥无效 That key is not valid.");
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    sessionStorage.setItem(KEY, candidate);
    $("api-key").value = "";
    if (location.hash === "#batches") await route();
    else location.hash = "batches";  // hashchange routes there
  });
});
$("sign-out").addEventListener("click", () => signOut(""));
window.addEventListener("hashchange", route);

// --- batches -----------------------------------------------------------------------------------

function done(counts) { return (counts.succeeded || 0) + (counts.failed || 0) + (counts.cancelled || 0); }
function total(counts) { return Object.values(counts).reduce((a, b) => a + b, 0); }

function batchRow(batch) {
  const row = document.createElement("tr");
  row.dataset.testid = "batch-row";
  row.tabIndex = 0;
  const open = () => { location.hash = `batch/${batch.id}`; };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  const cells = [batch.id, batch.options.filename || "", null, null, new Date(batch.created_at).toLocaleString()];
  for (const text of cells) { const cell = document.createElement("td"); if (text !== null) cell.textContent = text; row.append(cell); }
  const status = document.createElement("span");
  status.dataset.testid = "batch-status";
  status.textContent = batch.status;
  row.children[2].append(status);
  const bar = document.createElement("progress");
  bar.dataset.testid = "batch-progress";
  bar.max = Math.max(1, total(batch.counts));
  bar.value = done(batch.counts);
  row.children[3].append(bar);
  return row;
}

async function loadBatches(more = false) {
  if (!more) { $("batch-rows").replaceChildren(); state.olderThan = null; }
  const query = new URLSearchParams({ limit: "20" });
  if (more && state.olderThan) query.set("before", state.olderThan);
  const page = await json(`/v1/batches?${query}`);
  for (const batch of page.batches) $("batch-rows").append(batchRow(batch));
  state.olderThan = page.next;
  $("more-batches").hidden = !page.next;
  if (!page.batches.length && !more) say("还没有批次 No batches yet: upload a script.");
}
$("more-batches").addEventListener("click", (e) => guarded(e.target, () => loadBatches(true)));

// --- one batch ---------------------------------------------------------------------------------

function showBatch(batch) {
  state.batch = batch;
  $("batch-id").textContent = batch.id;
  $("batch-status").textContent = batch.status;
  $("batch-progress").max = Math.max(1, total(batch.counts));
  $("batch-progress").value = done(batch.counts);
  $("batch-counts").textContent = Object.entries(batch.counts).filter(([, n]) => n).map(([s, n]) => `${s} ${n}`).join(" · ");
  $("batch-warnings").replaceChildren(...(batch.warnings || []).map((w) => Object.assign(document.createElement("li"), { textContent: w })));
  $("cancel-batch").disabled = batch.done;
  const finished = batch.status === "succeeded";
  for (const id of ["download-m4b", "download-chapter", "download-captions"]) $(id).disabled = !finished || batch.kind !== "synthesis";
}

async function openBatch(id) {
  const batch = await json(`/v1/batches/${encodeURIComponent(id)}`);
  showBatch(batch);
  $("line-rows").replaceChildren();
  state.linesOffset = 0;
  await loadLines();
  followBatch(batch, state.follow);
}

async function followBatch(batch, generation) {
  // One long-poll at a time: the API answers when a line finishes, or after 20 s.
  while (!batch.done && generation === state.follow) {
    try {
      batch = await json(`/v1/batches/${batch.id}?wait=20`);
    } catch (err) { fail(err.message); return; }
    if (generation !== state.follow) return;
    showBatch(batch);
    await loadChapters(batch);
  }
  if (generation === state.follow) { await loadChapters(batch); refreshLines(); }
}

async function loadChapters(batch) {
  const rows = $("chapter-rows");
  const chapters = batch.chapters.length ? batch.chapters : [{ number: 1, title: batch.options.filename || batch.id }];
  const spoken = state.chapterDone || {};
  rows.replaceChildren(...chapters.map((c) => {
    const row = document.createElement("tr");
    row.dataset.testid = "chapter-row";
    for (const text of [c.number, c.title, spoken[c.number] !== undefined ? `${spoken[c.number].done}/${spoken[c.number].all}` : ""]) {
      const cell = document.createElement("td"); cell.textContent = text; row.append(cell);
    }
    return row;
  }));
}

async function loadLines() {
  const id = state.batch.id;
  const jobs = await json(`/v1/batches/${id}/jobs?offset=${state.linesOffset}&limit=200`);
  state.linesOffset += jobs.length;
  state.chapterDone = state.chapterDone || {};
  for (const job of jobs) $("line-rows").append(lineRow(job));
  $("more-lines").hidden = jobs.length < 200;
  tallyChapters();
  await loadChapters(state.batch);
}

function tallyChapters() {
  const tally = {};
  for (const item of $("line-rows").children) {
    const chapter = item.dataset.chapter || "1";
    tally[chapter] = tally[chapter] || { done: 0, all: 0 };
    tally[chapter].all += 1;
    if (item.dataset.status === "succeeded") tally[chapter].done += 1;
  }
  state.chapterDone = tally;
}

async function refreshLines() {
  $("line-rows").replaceChildren();
  state.linesOffset = 0;
  await loadLines();
}

function lineRow(job) {
  const item = document.createElement("li");
  item.dataset.chapter = job.chapter || 1;
  item.dataset.status = job.status;
  const play = document.createElement("button");
  play.type = "button";
  play.dataset.testid = "play-line";
  play.textContent = "▶";
  play.setAttribute("aria-label", `播放第 ${job.line} 句 Play line ${job.line}`);
  play.disabled = job.status !== "succeeded";
  play.addEventListener("click", () => guarded(play, () => playInto($("line-audio"), `/v1/jobs/${job.id}/audio?format=wav`)));
  const text = document.createElement("span");
  text.textContent = `${job.input.text}`;
  text.lang = (job.input.voice || "").startsWith("en") ? "en" : "zh-CN";
  item.append(play, text);
  return item;
}
$("more-lines").addEventListener("click", (e) => guarded(e.target, loadLines));

async function playInto(audio, path) {
  const blob = await (await api(path)).blob();
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(blob);
  await audio.play().catch(() => {});  // autoplay may be refused; the controls are there
}

function saveBlob(blob, name) {
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

function fileName(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const utf8 = /filename\*=UTF-8''([^;]+)/.exec(header);
  if (utf8) return decodeURIComponent(utf8[1]);
  const plain = /filename="([^"]+)"/.exec(header);
  return plain ? plain[1] : fallback;
}

async function download(path, fallback) {
  for (;;) {
    const response = await api(path);
    if (response.status !== 202) { saveBlob(await response.blob(), fileName(response, fallback)); return; }
    let job = await response.json();  // a book being built: wait for its job, then ask again
    say("正在生成 Building the file…");
    while (!["succeeded", "failed", "cancelled"].includes(job.status)) job = await json(`/v1/jobs/${job.id}?wait=20`);
    if (job.status !== "succeeded") throw new Error(`the file could not be built: ${job.error}`);
    say("");
  }
}

$("download-m4b").addEventListener("click", (e) => guarded(e.target, () => download(`/v1/batches/${state.batch.id}/audio?output=m4b`, `${state.batch.id}.m4b`)));
$("download-chapter").addEventListener("click", (e) => guarded(e.target, () => download(`/v1/batches/${state.batch.id}/audio?output=chapter`, `${state.batch.id}.wav`)));
$("download-captions").addEventListener("click", (e) => guarded(e.target, () => download(`/v1/batches/${state.batch.id}/captions?format=srt`, `${state.batch.id}.srt`)));
$("cancel-batch").addEventListener("click", (e) => guarded(e.target, async () => {
  if (!confirm("取消未开始的句子？ Cancel the lines not started yet?")) return;
  showBatch(await json(`/v1/batches/${state.batch.id}/cancel`, { method: "POST" }));
}));

// --- upload ------------------------------------------------------------------------------------

$("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(event.submitter, async () => {
    const form = new FormData();
    form.append("file", $("upload-file").files[0]);
    const fields = { voice: $("upload-voice-name").value.trim(), format: $("upload-format").value,
      priority: $("upload-priority").value, title: $("upload-title").value.trim(), author: $("upload-author").value.trim() };
    for (const [name, value] of Object.entries(fields)) if (value) form.append(name, value);
    const batch = await json("/v1/batches", { method: "POST", body: form });
    say(`已提交 Submitted: ${batch.lines} lines`);
    location.hash = `batch/${batch.id}`;
  });
});

// --- say ---------------------------------------------------------------------------------------

async function finishedJob(job) {
  while (!["succeeded", "failed", "cancelled"].includes(job.status)) job = await json(`/v1/jobs/${job.id}?wait=20`);
  if (job.status !== "succeeded") throw new Error(`job ${job.id} ${job.status}: ${job.error || ""}`);
  return job;
}

async function speak(text, voice, spokenOut, audio, chunksOut) {
  const body = JSON.stringify(voice ? { text, voice } : { text });
  const headers = { "Content-Type": "application/json" };
  const shown = await json("/v1/normalize", { method: "POST", body, headers });
  spokenOut.textContent = shown.spoken_text;
  if (chunksOut) chunksOut.replaceChildren(...shown.chunks.map((c) => Object.assign(document.createElement("li"), { textContent: c })));
  const job = await finishedJob(await json("/v1/synthesize", { method: "POST", body, headers }));
  await playInto(audio, `/v1/jobs/${job.id}/audio?format=wav`);
}

$("say-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(event.submitter, () => speak($("say-text").value, $("say-voice").value.trim(), $("say-spoken-text"), $("say-audio"), $("say-chunks")));
});

// --- voices ------------------------------------------------------------------------------------

async function loadVoices() {
  const voices = await json("/v1/voices");
  $("voice-rows").replaceChildren(...voices.map((v) => {
    const item = document.createElement("li");
    const play = Object.assign(document.createElement("button"), { type: "button", textContent: "▶" });
    play.setAttribute("aria-label", `播放 Play ${v.name}`);
    play.addEventListener("click", () => guarded(play, () => playInto($("voice-audio"), `/v1/voices/${v.id}/audio?format=wav`)));
    item.append(play, `${v.name} (${v.duration_s.toFixed(1)} s) ${v.transcript}`);
    return item;
  }));
  $("voice-names").replaceChildren(...["cmn", "yue", "en", ...voices.map((v) => v.name)].map((n) => Object.assign(document.createElement("option"), { value: n })));
}

$("voice-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(event.submitter, async () => {
    const form = new FormData();
    form.append("audio", $("upload-voice").files[0]);
    form.append("transcript", $("voice-transcript").value);
    if ($("voice-name").value.trim()) form.append("name", $("voice-name").value.trim());
    const voice = await json("/v1/voices", { method: "POST", body: form });
    say(`已上传 Voice ${voice.name} added`);
    await loadVoices();
  });
});

// --- lexicon -----------------------------------------------------------------------------------

async function loadLexicon() {
  const lexicon = await json("/v1/lexicon");
  $("lexicon-text").value = Object.entries(lexicon.entries).map(([w, r]) => `${w}\t${r}`).join("\n");
}

$("lexicon-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(event.submitter, async () => {
    const entries = {};
    for (const [number, line] of $("lexicon-text").value.split("\n").entries()) {
      if (!line.trim()) continue;
      const [word, reading] = line.split("\t");
      if (!reading) throw new Error(`第 ${number + 1} 行缺少 Tab Line ${number + 1}: a word, a tab, its reading`);
      entries[word.trim()] = reading.trim();
    }
    await json("/v1/lexicon", { method: "PUT", body: JSON.stringify({ entries }), headers: { "Content-Type": "application/json" } });
    say("已保存 Saved");
  });
});

$("hear-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(event.submitter, () => speak($("hear-word").value, "", $("hear-spoken"), $("hear-audio"), null));
});

// --- usage -------------------------------------------------------------------------------------

async function loadUsage() {
  const usage = await json("/v1/usage");
  $("usage-rows").replaceChildren(...usage.quotas.map((q) => {
    const row = document.createElement("tr");
    for (const text of [q.counts, q.used_today.toLocaleString(), q.limit === null ? "无 none" : q.limit.toLocaleString()]) {
      const cell = document.createElement("td"); cell.textContent = text; row.append(cell);
    }
    return row;
  }));
  $("usage-more").textContent = `租户 Tenant ${usage.tenant} · 每分钟提交 submissions a minute: ${usage.rate_limit_per_min ?? "无 none"} · 份额 share: ${usage.weight}`;
}

route();
