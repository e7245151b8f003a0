// assetdb web app: a hash router over five pages and the selects bin.
import { h, api, bin, saveBlob, toast, thumbImg } from "/static/util.js";
import { searchPage } from "/static/search.js";
import { assetPage } from "/static/asset.js";
import { assetsPage, personsPage, personPage, highlightsPage, statusPage } from "/static/pages.js";

const routes = [
  [/^#\/search(?:\?(.*))?$/, m => searchPage(new URLSearchParams(m[1] || ""))],
  [/^#\/asset\/(\d+)(?:\?(.*))?$/, m => assetPage(Number(m[1]), new URLSearchParams(m[2] || ""))],
  [/^#\/assets(?:\?(.*))?$/, m => assetsPage(new URLSearchParams(m[1] || ""))],
  [/^#\/persons$/, () => personsPage()],
  [/^#\/person\/([^?]+)$/, m => personPage(decodeURIComponent(m[1]))],
  [/^#\/highlights(?:\?(.*))?$/, m => highlightsPage(new URLSearchParams(m[1] || ""))],
  [/^#\/status$/, () => statusPage()],
];

let cleanup = null;

async function route() {
  const hash = location.hash || "#/search";
  const view = document.getElementById("view");
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  const name = (hash.match(/^#\/(\w+)/) || [])[1];
  const navName = { asset: "assets", person: "persons" }[name] || name;
  document.querySelectorAll("[data-nav]").forEach(a => a.classList.toggle("active", a.dataset.nav === navName));
  for (const [re, fn] of routes) {
    const m = hash.match(re);
    if (m) {
      view.replaceChildren(h("div", { class: "empty" }, h("span", { class: "spinner" }), " loading"));
      try {
        const page = await fn(m);
        if (location.hash !== hash && !(hash === "#/search" && !location.hash)) return;  // navigated away meanwhile
        view.replaceChildren(page.el);
        cleanup = page.cleanup || null;
        if (page.ready) page.ready();
      } catch (e) {
        view.replaceChildren(h("div", { class: "empty error" }, String(e.message || e)));
      }
      return;
    }
  }
  location.hash = "#/search";
}

// ---- selects bin drawer
function renderBin() {
  const items = bin.items();
  document.getElementById("bin-count").textContent = String(items.length);
  const el = document.getElementById("bin");
  if (el.hidden) return;
  const list = items.length ? items.map((it, i) => h("div", { class: "item" },
    h("a", { href: `#/asset/${it.asset_id}?t=${it.start_s}&in=${it.start_s}&out=${it.end_s}` }, thumbImg(it.thumbnail_url, it.name)),
    h("div", {},
      h("div", { class: "name", title: it.name, text: it.name }),
      h("div", { class: "tc" }, `${it.tc_in} – ${it.tc_out}`)),
    h("button", { class: "x", title: "Remove", onclick: () => bin.remove(i) }, "×"),
  )) : [h("div", { class: "empty" }, "Add shots with + on a search hit or with the player's marks.")];
  el.replaceChildren(
    h("header", {}, h("h1", {}, `Selects (${items.length})`),
      h("button", { class: "x", title: "Close", onclick: () => { el.hidden = true; } }, "×")),
    h("div", { class: "items" }, list),
    h("footer", {},
      ...["edl", "otio", "csv"].map(fmt => h("button", {
        class: "btn small", disabled: !items.length, onclick: () => exportBin(fmt),
      }, `Export ${fmt.toUpperCase()}`)),
      h("button", { class: "btn small danger", disabled: !items.length, onclick: () => { if (confirm("Empty the selects bin?")) bin.clear(); } }, "Clear")),
  );
}

async function exportBin(fmt) {
  try {
    const items = bin.items().map(i => ({ asset_id: i.asset_id, segment_id: i.segment_id ?? null, start_s: i.start_s, end_s: i.end_s, name: i.name }));
    const r = await api("/api/selects/export", { body: { format: fmt, items }, raw: true });
    saveBlob(await r.blob(), `selects.${fmt}`);
  } catch (e) { toast(e.message, true); }
}

document.getElementById("bin-toggle").addEventListener("click", () => {
  const el = document.getElementById("bin");
  el.hidden = !el.hidden;
  renderBin();
});
window.addEventListener("bin", renderBin);
window.addEventListener("storage", renderBin);
window.addEventListener("hashchange", route);
document.addEventListener("keydown", e => {
  if (e.key === "b" && !e.ctrlKey && !e.metaKey && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
    document.getElementById("bin-toggle").click();
  }
});
renderBin();
route();
