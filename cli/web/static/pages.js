// Assets, persons, highlights and ingest status pages.
import { h, api, qs, basename, saveBlob, thumbImg, timecode, parseRate, toast } from "/static/util.js";

// ---------------------------------------------------------------- assets
export async function assetsPage(params) {
  const kind = params.get("kind") || "";
  const LIMIT = 1000;
  const res = await api("/api/assets?" + qs({ kind, limit: LIMIT }));
  const tabs = h("div", { class: "filters" }, ["", "video", "image", "audio"].map(k =>
    h("a", { href: `#/assets${k ? "?kind=" + k : ""}`, class: "chip" + (k === kind ? " text" : "") }, k || "all")));
  const cards = res.assets.map(a => h("div", { class: "card", tabindex: "0", onclick: () => { location.hash = `#/asset/${a.id}`; } },
    h("div", { class: "thumb" }, thumbImg(a.thumbnail_url, a.name),
      h("span", { class: "badge bl kind" }, a.kind || "?"),
      a.duration_s ? h("span", { class: "badge br tc" }, timecode(a.duration_s, parseRate(a.frame_rate))) : null,
      a.state !== "indexed" ? h("span", { class: `badge tl pill ${a.state}` }, a.state) : null),
    h("div", { class: "meta" }, h("div", { class: "name", title: a.path, text: a.name }),
      h("div", { class: "line" }, h("span", {}, `${a.segments} shot${a.segments === 1 ? "" : "s"}`), h("span", {}, a.width ? `${a.width}×${a.height}` : "")))));
  return { el: h("div", {}, h("h1", {}, `Assets (${res.assets.length}${res.assets.length === LIMIT ? "+" : ""})`), tabs,
    res.assets.length === LIMIT ? h("div", { class: "summary" }, `The first ${LIMIT} by path; search to find the others.`) : null,
    cards.length ? h("div", { class: "grid" }, cards) : h("div", { class: "empty" }, "Nothing catalogued yet: run assetdb ingest PATH.")) };
}

// ---------------------------------------------------------------- persons
export async function personsPage() {
  const res = await api("/api/persons");
  const cards = res.persons.map(p => h("div", { class: "person", dataset: { person: p.id }, onclick: () => { location.hash = `#/person/${p.id}`; } },
    p.thumbnail_url ? h("img", { src: p.thumbnail_url, alt: p.name || "" }) : h("div", { class: "noimg" }, "no face"),
    h("div", { class: "meta" },
      h("div", { class: "name" + (p.name ? "" : " unnamed"), text: p.name || `Unnamed #${p.id}` }),
      h("div", { class: "line" }, h("span", {}, `${p.faces} face${p.faces === 1 ? "" : "s"}`), h("span", {}, `${p.assets} file${p.assets === 1 ? "" : "s"}`)))));
  return { el: h("div", {}, h("h1", {}, `Persons (${res.persons.length})`),
    h("div", { class: "summary" }, "Faces found in the archive, grouped by person. Open one to name it, merge it with another, split or reject faces."),
    cards.length ? h("div", { class: "pgrid" }, cards) : h("div", { class: "empty" }, "No faces found yet.")) };
}

export async function personPage(ref) {
  const [p, all] = await Promise.all([api(`/api/persons/${encodeURIComponent(ref)}`), api("/api/persons")]);
  const selected = new Set();
  const label = p.name || `Unnamed #${p.id}`;
  const nameInput = h("input", { class: "field", id: "person-name", placeholder: "name", value: p.name || "" });
  const others = all.persons.filter(o => o.id !== p.id);
  const mergeSel = h("select", { class: "field", id: "merge-source" }, h("option", { value: "" }, "merge another person in…"),
    others.map(o => h("option", { value: o.id }, o.name || `Unnamed #${o.id} (${o.faces} faces)`)));
  const splitName = h("input", { class: "field", placeholder: "new person's name (optional)" });
  const countEl = h("span", { class: "muted" }, "0 selected");
  const doit = async (fn, ok) => { try { await fn(); toast(ok); } catch (e) { toast(e.message, true); } };
  const post = (path, body) => api(path, { body });
  const refresh = id => { location.hash = `#/person/${id}`; window.dispatchEvent(new HashChangeEvent("hashchange")); };
  const toolbar = h("div", { class: "toolbar" },
    nameInput, h("button", { class: "btn primary", id: "save-name", onclick: () => doit(async () => {
      const r = await post(`/api/persons/${p.id}/name`, { name: nameInput.value });
      refresh(r.id);
    }, `named ${nameInput.value}`) }, p.name ? "Rename" : "Name"),
    h("span", { class: "sep" }),
    mergeSel, h("button", { class: "btn", onclick: () => mergeSel.value && doit(async () => {
      await post(`/api/persons/${p.id}/merge`, { sources: [mergeSel.value] });
      refresh(p.id);
    }, "merged") }, "Merge"),
    h("span", { class: "sep" }),
    countEl, splitName,
    h("button", { class: "btn", onclick: () => selected.size && doit(async () => {
      const r = await post(`/api/persons/${p.id}/split`, { faces: [...selected], name: splitName.value || null });
      location.hash = `#/person/${r.id}`;
    }, "split into a new person") }, "Split selected"),
    h("button", { class: "btn danger", onclick: () => selected.size && doit(async () => {
      for (const f of selected) await post(`/api/faces/${f}/reject`, { person: String(p.id) });
      refresh(p.id);
    }, "rejected") }, "Not this person"));
  const faces = p.face_list.map(f => {
    const el = h("div", { class: "face" + (f.low_quality ? " low" : ""), title: `${f.name} at ${f.t_s.toFixed(2)} s (quality ${f.quality})`, dataset: { face: f.id } },
      f.crop_url ? h("img", { src: f.crop_url, alt: "", loading: "lazy" }) : h("div", { class: "noimg" }, "?"),
      h("div", { class: "cap", title: f.path }, h("a", { href: `#/asset/${f.asset_id}?t=${f.t_s}`, onclick: e => e.stopPropagation() }, `${f.t_s.toFixed(1)}s`), ` ${f.name}`));
    el.addEventListener("click", () => {
      if (selected.has(f.id)) selected.delete(f.id); else selected.add(f.id);
      el.classList.toggle("selected", selected.has(f.id));
      countEl.textContent = `${selected.size} selected`;
    });
    return el;
  });
  return { el: h("div", {},
    h("div", { class: "asset-head" }, h("h1", { text: label }),
      h("span", { class: "facts" }, `${p.faces} faces · ${p.shots} shots · ${p.assets} files`),
      p.name ? h("a", { href: `#/search?${qs({ person: p.name })}` }, `shots with ${p.name}`) : null),
    toolbar, h("div", { class: "facegrid" }, faces)) };
}

// ---------------------------------------------------------------- highlights
export async function highlightsPage(params) {
  const assets = (await api("/api/assets?kind=video")).assets;
  const mode = params.get("query") ? "query" : "asset";
  const assetSel = h("select", { class: "field", id: "hl-asset" }, assets.map(a => h("option", { value: a.id, selected: String(a.id) === params.get("asset") }, a.name)));
  const queryIn = h("input", { class: "field", id: "hl-query", placeholder: "e.g. people talking", value: params.get("query") || "" });
  const dur = h("input", { class: "field", id: "hl-duration", type: "number", min: "1", step: "1", value: params.get("duration") || "20" });
  const order = h("select", { class: "field" }, h("option", { value: "chrono" }, "in story order"), h("option", { value: "score" }, "best first"));
  const radio = (v, text) => h("label", {}, h("input", { type: "radio", name: "hl-mode", value: v, checked: v === mode }), text);
  const out = h("div", {}, h("div", { class: "empty" }, "Pick a clip (or type a query) and a length, then build."));
  const buildBtn = h("button", { class: "btn primary", id: "hl-build", type: "submit" }, "Build reel");
  const form = h("form", { class: "form", onsubmit: async e => {
    e.preventDefault();
    const m = form.querySelector("input[name=hl-mode]:checked").value;
    const body = { duration_s: Number(dur.value), order: order.value };
    if (m === "asset") body.asset_id = Number(assetSel.value); else body.query = queryIn.value.trim();
    buildBtn.disabled = true;
    out.replaceChildren(h("div", { class: "empty" }, h("span", { class: "spinner" }), " choosing the best moments…"));
    try { out.replaceChildren(reelView(await api("/api/highlights", { body }))); }
    catch (err) { out.replaceChildren(h("div", { class: "empty error" }, err.message)); }
    finally { buildBtn.disabled = false; }
  } },
    h("div", { class: "radio" }, radio("asset", "from one clip"), radio("query", "from a search")),
    h("label", {}, "clip", assetSel), h("label", {}, "query", queryIn),
    h("div", { class: "row" }, h("label", {}, "length (s)", dur), h("label", {}, "order", order)), buildBtn);
  return { el: h("div", {}, h("h1", {}, "Highlights"),
    h("div", { class: "hl-layout" }, h("div", { class: "panel" }, form), h("div", {}, out))) };
}

function reelView(reel) {
  const video = h("video", { id: "reel-player", preload: "auto", playsinline: true });
  const screen = h("div", { class: "screen" }, video);
  const tc = h("span", { class: "tcbig" }, "");
  let i = -1;
  const rows = reel.clips.map((c, k) => h("div", { class: "clip", dataset: { i: k }, onclick: () => playClip(k) },
    h("span", { class: "n" }, String(k + 1)), thumbImg(c.thumbnail_url, c.name),
    h("div", {}, h("div", { class: "name", text: c.name }), h("div", { class: "tc muted" }, `${c.start_s.toFixed(2)}–${c.end_s.toFixed(2)} s`)),
    h("span", { class: "mono muted" }, `${c.duration_s.toFixed(1)}s`)));
  function playClip(k) {
    const c = reel.clips[k];
    if (!c) { video.pause(); return; }
    i = k;
    rows.forEach((r, n) => r.classList.toggle("playing", n === k));
    if (!c.play.url) { toast(`${c.name}: ${c.play.reason}`, true); return playClip(k + 1); }
    const go = () => { video.currentTime = c.start_s + (c.play.offset_s || 0); video.play().catch(() => {}); };
    if (video.dataset.src !== c.play.url) { video.dataset.src = c.play.url; video.src = c.play.url; video.addEventListener("loadedmetadata", go, { once: true }); } else go();
  }
  video.addEventListener("timeupdate", () => {
    const c = reel.clips[i];
    if (!c) return;
    const t = video.currentTime - (c.play.offset_s || 0);
    tc.textContent = `${i + 1}/${reel.clips.length}  ${timecode(t, parseRate(c.rate))}`;
    if (t >= c.end_s - 0.02) playClip(i + 1);
  });
  const dl = fmt => h("button", { class: "btn", onclick: async () => {
    try {
      toast(fmt === "mp4" ? "rendering the MP4…" : `writing ${fmt}`);
      const r = await api(reel.downloads[fmt], { raw: true });
      saveBlob(await r.blob(), `highlights-${reel.id}.${fmt}`);
    } catch (e) { toast(e.message, true); }
  } }, `Download ${fmt.toUpperCase()}`);
  return h("div", { id: "reel" },
    h("div", { class: "player" }, screen, h("div", { class: "controls" },
      h("button", { class: "btn primary", onclick: () => playClip(0) }, "▶ Preview reel"), tc, h("span", { class: "spacer" }),
      h("span", { class: "muted" }, `${reel.clips.length} clips · ${reel.duration_s.toFixed(1)} s of ${reel.target_s} s`))),
    reel.warnings.length ? h("div", { class: "summary" }, reel.warnings.map(w => h("div", {}, `⚠ ${w}`))) : null,
    h("div", { class: "downloads" }, ["otio", "edl", "json", "mp4"].map(dl)),
    h("div", { class: "clips", id: "reel-clips" }, rows));
}

// ---------------------------------------------------------------- ingest status
const STATUS_REFRESH_MS = 5000;

export async function statusPage() {
  const el = h("div", {}, ...statusView(await api("/api/status")));
  // follows an ingest running beside the server
  const timer = setInterval(async () => {
    try { el.replaceChildren(...statusView(await api("/api/status"))); } catch { /* next time */ }
  }, STATUS_REFRESH_MS);
  return { el, cleanup: () => clearInterval(timer) };
}

function statusView(s) {
  const a = s.assets;
  const stat = (v, k, cls = "") => h("div", { class: `stat ${cls}` }, h("div", { class: "v" }, String(v)), h("div", { class: "k" }, k));
  const stageRows = Object.entries(s.stages).sort();
  const table = (cols, rows) => h("div", { class: "tablewrap" }, h("table", { class: "rowtable" },
    h("thead", {}, h("tr", {}, cols.map(c => h("th", {}, c[0])))),
    h("tbody", {}, rows.map(r => h("tr", {}, cols.map(c => h("td", {}, c[1](r))))))));
  const link = r => h("a", { href: `#/asset/${r.id}`, title: r.path }, basename(r.path));
  return [h("h1", {}, "Ingest status"),
    h("div", { class: "stats" },
      stat(a.indexed, "indexed", "ok"), stat(a.pending, "pending"), stat(a.failed, "failed", a.failed ? "bad" : ""),
      stat(a.missing, "missing from disk"), stat((s.media_hours * 60).toFixed(1), "minutes of media"),
      stat(s.segments, "shots and segments"), stat(s.keyframes, "keyframes")),
    h("div", { class: "summary mono" }, `${s.database} · ${s.data_dir} · schema ${s.schema_revision} (head ${s.schema_head})`),
    h("h2", {}, "Stages"),
    table([["stage", r => r[0]], ["done", r => String(r[1].done || 0)], ["failed", r => r[1].failed ? h("span", { class: "pill failed" }, String(r[1].failed)) : "0"]], stageRows),
    h("h2", {}, `Failed files (${s.failed.length})`),
    s.failed.length ? table([["file", link], ["reason", r => r.error || ""]], s.failed) : h("div", { class: "muted" }, "none"),
    h("h2", {}, `Failed stages (${s.stage_failures.length})`),
    s.stage_failures.length ? table([["file", link], ["stage", r => r.stage], ["reason", r => r.error || ""]], s.stage_failures) : h("div", { class: "muted" }, "none"),
    h("h2", {}, `Pending (${s.pending.length})`),
    s.pending.length ? table([["file", link], ["state", r => h("span", { class: `pill ${r.state}` }, r.state)]], s.pending) : h("div", { class: "muted" }, "none"),
    h("h2", {}, "Vectors"),
    Object.keys(s.vectors).length ? table([["space", r => r[0]], ["vectors", r => String(r[1])]], Object.entries(s.vectors).sort())
      : h("div", { class: "muted" }, "none yet: the visual, transcript and sound extractors add them")];
}
