// Search page: one box, filters, a dense grid of hits; hovering a hit scrubs its keyframes.
import { h, api, qs, bin, basename, thumbImg } from "/static/util.js";

const FILTERS = ["kind", "path", "person", "object", "sound", "after", "before", "min_duration", "max_duration", "all_shots", "limit", "like_shot", "sounds_like_shot"];
const LISTS = ["person", "object", "sound"];
const SOURCE_LABEL = { visual: "looks like", text: "words", transcript: "speech", sound: "sounds like", sound_events: "heard", like: "similar", filter: "filter" };

export async function searchPage(params) {
  const q = params.get("q") || "";
  const input = h("input", { type: "search", name: "q", value: q, placeholder: "Describe a shot, a line of dialogue, a file name…", autocomplete: "off", autofocus: true, "aria-label": "Search" });
  const f = name => params.getAll(name).filter(Boolean);
  const field = (name, attrs) => h("input", { name, value: params.get(name) || "", ...attrs });
  const kind = h("select", { name: "kind" },
    ["", "video", "image", "audio"].map(k => h("option", { value: k, selected: (params.get("kind") || "") === k }, k || "any kind")));
  const allShots = h("input", { type: "checkbox", name: "all_shots", checked: params.get("all_shots") === "true" });
  const form = h("form", { class: "search", onsubmit: e => {
    e.preventDefault();
    const fd = new FormData(form);
    const p = { q: fd.get("q").trim() };
    for (const name of FILTERS) {
      const all = fd.getAll(name).map(v => String(v).trim()).filter(Boolean);
      if (name === "all_shots") p[name] = allShots.checked ? "true" : "";
      else if (LISTS.includes(name)) p[name] = all.flatMap(v => v.split(",").map(s => s.trim()).filter(Boolean));
      else p[name] = all[0] || "";
    }
    location.hash = "#/search?" + qs(p);
  } },
    h("div", { class: "searchbar" }, input, h("button", { class: "btn primary", type: "submit" }, "Search")),
    h("div", { class: "filters" },
      h("label", {}, kind),
      h("label", {}, "person", field("person", { class: "txt", placeholder: "name", value: f("person").join(", ") })),
      h("label", {}, "object", field("object", { class: "txt", placeholder: "e.g. dog", value: f("object").join(", ") })),
      h("label", {}, "sound", field("sound", { class: "txt", placeholder: "e.g. Dog", value: f("sound").join(", ") })),
      h("label", {}, "path", field("path", { class: "txt", placeholder: "*.mov" })),
      h("label", {}, "shot", field("min_duration", { class: "num", type: "number", step: "0.1", min: "0", placeholder: "min s" }), "–",
        field("max_duration", { class: "num", type: "number", step: "0.1", min: "0", placeholder: "max s" })),
      h("label", {}, "created", field("after", { class: "date", type: "date" }), "–", field("before", { class: "date", type: "date" })),
      h("label", { title: "By default the best shot of each file, with how many more match" }, allShots, "every shot"),
      h("label", {}, "limit", field("limit", { class: "num", type: "number", min: "1", max: "500", placeholder: "40" })),
      params.get("like_shot") ? h("input", { type: "hidden", name: "like_shot", value: params.get("like_shot") }) : null,
      params.get("sounds_like_shot") ? h("input", { type: "hidden", name: "sounds_like_shot", value: params.get("sounds_like_shot") }) : null,
    ));
  const summary = h("div", { class: "summary" });
  const grid = h("div", { class: "grid", id: "results" });
  const el = h("div", {}, form, summary, grid);

  const any = q || FILTERS.some(n => params.get(n));
  if (!any) {
    summary.textContent = "Type what you are looking for: a description of a shot (“a man in a hat”), words said or written on screen, a file name. Filters narrow the hits.";
    const recent = (await api("/api/assets?limit=30")).assets;
    if (recent.length) {
      grid.before(h("h2", {}, "In the archive"));
      grid.replaceChildren(...recent.map(a => h("div", { class: "card", tabindex: "0", onclick: () => { location.hash = `#/asset/${a.id}`; } },
        h("div", { class: "thumb" }, thumbImg(a.thumbnail_url, a.name), h("span", { class: "badge bl kind" }, a.kind || "?")),
        h("div", { class: "meta" }, h("div", { class: "name", title: a.path, text: a.name }),
          h("div", { class: "line" }, h("span", {}, `${a.segments} shot${a.segments === 1 ? "" : "s"}`), h("span", {}, a.duration_s ? `${a.duration_s.toFixed(1)} s` : ""))))));
    }
    return { el, ready: () => input.focus() };
  }
  const query = { q, limit: params.get("limit") || 40 };
  for (const n of FILTERS) if (n !== "limit") query[n] = LISTS.includes(n) ? f(n) : params.get(n);
  try {
    const res = await api("/api/search?" + qs(query));
    const what = [q && `“${q}”`, params.get("like_shot") && `like shot ${params.get("like_shot")}`,
      params.get("sounds_like_shot") && `sounds like segment ${params.get("sounds_like_shot")}`].filter(Boolean).join(" ");
    // weak hits come only when nothing reaches the cutoff: the nearest, under their own heading
    const good = res.results.filter(r => !r.weak), weak = res.results.filter(r => r.weak);
    summary.textContent = `${good.length} hit${good.length === 1 ? "" : "s"}${what ? " for " + what : ""} in ${res.took_ms.toFixed(0)} ms`;
    if (!good.length) {
      const none = h("div", { class: "empty" }, weak.length
        ? "No good match: nothing is likely enough to be what you asked for. The nearest are below; try other words or fewer filters."
        : (q ? "No good match: nothing is likely enough to be what you asked for. Try other words or fewer filters." : "No matches. Try fewer filters."));
      grid.before(none);
    }
    grid.replaceChildren(...good.map(hitCard));
    if (weak.length) {
      const weakGrid = h("div", { class: "grid weak", id: "weak-results" }, weak.map(hitCard));
      grid.after(h("h2", { class: "weak-heading" }, "Weak matches"), weakGrid);
    }
  } catch (e) {
    summary.replaceChildren(h("span", { class: "error" }, e.message));
  }
  return { el };
}

export function hitCard(hit) {
  const img = thumbImg(hit.thumbnail_url, hit.name);
  const bar = h("div", { class: "scrub" });
  const dur = hit.end_s - hit.start_s;
  const thumb = h("div", { class: "thumb" }, img,
    h("span", { class: "badge tl tc", title: "in – out" }, hit.kind === "image" ? "still" : `${hit.tc_in} – ${hit.tc_out}`),
    hit.kind !== "image" ? h("span", { class: "badge br tc" }, `${dur.toFixed(1)}s`) : null,
    h("span", { class: "badge bl kind" }, hit.kind), bar);
  const frames = hit.keyframes || [];
  if (frames.length > 1) {
    thumb.addEventListener("mousemove", e => {
      const r = thumb.getBoundingClientRect();
      const i = Math.min(frames.length - 1, Math.max(0, Math.floor((e.clientX - r.left) / r.width * frames.length)));
      if (img.tagName === "IMG" && img.dataset.i !== String(i)) { img.src = frames[i].url; img.dataset.i = String(i); }
      bar.style.width = `${((i + 1) / frames.length) * 100}%`;
    });
    thumb.addEventListener("mouseleave", () => { if (img.tagName === "IMG") { img.src = hit.thumbnail_url; delete img.dataset.i; } bar.style.width = "0"; });
  }
  const why = Object.entries(hit.sources || {}).sort((a, b) => b[1].contribution - a[1].contribution)
    .map(([name, s]) => h("span", { class: `chip ${name}`, title: `${name}: rank ${s.rank}, score ${Number(s.score).toFixed(3)}` + (s.relevance != null ? `, relevance ${Math.round(s.relevance * 100)}%` : "") }, `${SOURCE_LABEL[name] || name} #${s.rank}`));
  const open = () => { location.hash = `#/asset/${hit.asset_id}?t=${hit.start_s}&in=${hit.start_s}&out=${hit.end_s}&seg=${hit.segment_id}`; };
  const add = h("button", { class: "btn small add", title: "Add to selects", onclick: e => {
    e.stopPropagation();
    bin.add({ asset_id: hit.asset_id, segment_id: hit.segment_id, start_s: hit.start_s, end_s: hit.end_s, tc_in: hit.tc_in, tc_out: hit.tc_out, name: hit.name || basename(hit.path), thumbnail_url: hit.thumbnail_url });
  } }, "+ selects");
  return h("div", { class: "card hit" + (hit.weak ? " weak" : ""), tabindex: "0", dataset: { asset: hit.asset_id, segment: hit.segment_id }, onclick: open, onkeydown: e => { if (e.key === "Enter") open(); } },
    thumb, add,
    h("div", { class: "meta" },
      h("div", { class: "name", title: hit.path, text: hit.name || basename(hit.path) }),
      h("div", { class: "line" },
        h("span", {}, `shot ${hit.segment_index + 1}` + (hit.other_shots ? ` · +${hit.other_shots} shot${hit.other_shots === 1 ? "" : "s"}` : "")),
        h("span", { class: "mono", title: "relevance: how likely this is what was asked for" }, `${Math.round(hit.score * 100)}%`)),
      h("div", { class: "why" }, why),
      hit.snippet ? h("div", { class: "snippet", title: hit.snippet }, marked(hit.snippet)) : null));
}

// full-text snippets mark the matched words as [word] (both backends)
function marked(snippet) {
  return snippet.split(/\[([^\[\]]{1,80})\]/).map((part, i) => (i % 2 ? h("mark", {}, part) : part));
}
