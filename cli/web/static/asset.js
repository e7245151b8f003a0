// Asset page: a player that opens at the hit (marks in/out, frame steps, J/K/L, I/O,
// copy timecode), the shot strip, and a transcript that follows playback.
import { h, api, bin, copyText, parseRate, timecode, thumbImg, toast } from "/static/util.js";

export async function assetPage(id, params) {
  const d = await api(`/api/assets/${id}`);
  const rate = parseRate(d.frame_rate);
  // source timecode by the one rule: the file's start timecode plus the frame
  const tc = t => timecode(t, rate, d.start_tc_frames || 0, d.tc_drop !== false);
  const segs = d.segments || [];
  const duration = d.duration_s || (segs.length ? segs[segs.length - 1].end_s : 0);
  const start = Number(params.get("t") || 0);
  const marks = { in: params.has("in") ? Number(params.get("in")) : null, out: params.has("out") ? Number(params.get("out")) : null };
  const hitSeg = params.has("seg") ? Number(params.get("seg")) : null;
  const firstKf = segs.flatMap(s => s.keyframes || []).find(k => k.url);
  // stored times count from the first video frame; the element's clock from the file's 0
  const off = (d.play && d.play.offset_s) || 0;

  // ---- the screen
  let media = null;
  let screen;
  if (d.kind === "image") {
    screen = h("div", { class: "screen" }, h("img", { src: d.play.source === "original" ? d.play.url : (firstKf && firstKf.url), alt: d.name }));
  } else if (d.play.url && d.kind === "video") {
    media = h("video", { id: "player", src: d.play.url, preload: "auto", playsinline: true, poster: firstKf ? firstKf.url : null });
    screen = h("div", { class: "screen" }, media);
  } else if (d.play.url && d.kind === "audio") {
    media = h("audio", { id: "player", src: d.play.url, preload: "auto", controls: true });
    screen = h("div", { class: "screen" }, media);
  } else {
    screen = h("div", { class: "screen" },
      firstKf ? h("img", { src: firstKf.url, alt: d.name }) : null,
      h("div", { class: "unplayable badge tl" }, d.play.reason || "not playable in a browser"));
  }

  // ---- timeline (shots, marks, playhead)
  const head = h("div", { class: "head" });
  const markEl = h("div", { class: "mark" });
  const timeline = h("div", { class: "timeline", title: "click to seek" },
    segs.map(s => h("div", { class: "seg" + (s.id === hitSeg ? " hit" : ""), title: `shot ${s.index + 1}: ${s.tc_in}`, dataset: { left: s.start_s } })),
    markEl, head);
  const pct = t => `${duration ? (100 * t / duration) : 0}%`;
  timeline.querySelectorAll(".seg").forEach((el, i) => { el.style.left = pct(segs[i].start_s); el.style.width = pct(segs[i].end_s - segs[i].start_s); });
  timeline.addEventListener("click", e => {
    if (!media) return;
    const r = timeline.getBoundingClientRect();
    seek((e.clientX - r.left) / r.width * duration);
  });

  // ---- controls
  const tcBig = h("span", { class: "tcbig", id: "tc", title: "click to copy" }, tc(start));
  tcBig.addEventListener("click", () => copyText(tcBig.textContent));
  const marksEl = h("span", { class: "marks", id: "marks" });
  const playBtn = h("button", { class: "btn", id: "play", title: "play / pause (space, K)" }, "▶");
  const btn = (label, title, fn) => h("button", { class: "btn", title, onclick: fn }, label);
  const controls = h("div", { class: "controls" },
    btn("|◀", "previous shot", () => stepShot(-1)),
    btn("◀ 1f", "back one frame (←)", () => stepFrames(-1)),
    playBtn,
    btn("1f ▶", "forward one frame (→)", () => stepFrames(1)),
    btn("▶|", "next shot", () => stepShot(1)),
    tcBig,
    h("span", { class: "spacer" }),
    btn("Mark in", "mark in (I)", () => setMark("in")),
    btn("Mark out", "mark out (O)", () => setMark("out")),
    marksEl,
    h("button", { class: "btn primary", title: "add the marked range (or this shot) to the selects bin", onclick: addSelect }, "+ selects"),
  );
  const keys = h("div", { class: "keys" },
    ...[["J", "reverse"], ["K", "pause"], ["L", "play (again: faster)"], ["← →", "frame"], ["I", "in"], ["O", "out"], ["⇧I/⇧O", "go to mark"], ["C", "copy TC"]]
      .flatMap(([k, v]) => [h("kbd", {}, k), ` ${v}  `]));
  playBtn.addEventListener("click", () => togglePlay());

  const now = () => (media ? media.currentTime - off : start);
  const currentSeg = t => segs.findIndex(s => t >= s.start_s - 1e-6 && t < s.end_s - 1e-6);

  let reverseTimer = null, speed = 1;
  function stopReverse() { if (reverseTimer) { clearInterval(reverseTimer); reverseTimer = null; } }
  // A paused <video> shows the last frame at or before currentTime, and stored times round:
  // aim half a frame into the wanted frame so the frame shown is that one.
  const into = t => t + 0.5 / rate;
  function seek(t) { if (!media) return; stopReverse(); media.currentTime = Math.max(0, Math.min(duration || t, t)) + off; update(); }
  function togglePlay() { if (!media) return; stopReverse(); speed = 1; media.playbackRate = 1; if (media.paused) media.play(); else media.pause(); }
  function stepFrames(n) { if (!media) return; media.pause(); stopReverse(); seek(into((Math.floor(now() * rate + 0.1) + n) / rate)); }
  function stepShot(n) {
    const i = currentSeg(now());
    const j = Math.max(0, Math.min(segs.length - 1, (i < 0 ? 0 : i) + n));
    if (segs[j]) seek(into(segs[j].start_s));
  }
  function play(dir) {
    if (!media) return;
    if (dir > 0) {
      stopReverse();
      speed = media.paused || media.playbackRate < 1 ? 1 : Math.min(8, media.playbackRate * 2);
      media.playbackRate = speed;
      media.play();
    } else {
      media.pause();
      speed = reverseTimer ? Math.min(8, speed * 2) : 1;
      stopReverse();
      reverseTimer = setInterval(() => {
        media.currentTime = Math.max(off, media.currentTime - 0.1 * speed);
        if (media.currentTime <= off) stopReverse();
      }, 100);
    }
  }
  // marks.out is exclusive (the frame after the last one kept) and shows so, as search
  // hits and EDLs show their out-points
  const frameStart = t => Math.floor(t * rate + 0.1) / rate;
  const outTc = t => tc(t);
  function setMark(which) {
    marks[which] = which === "in" ? frameStart(now()) : frameStart(now()) + 1 / rate;
    if (marks.in !== null && marks.out !== null && marks.out <= marks.in) marks[which === "in" ? "out" : "in"] = null;
    update();
  }
  function addSelect() {
    let a = marks.in, b = marks.out;
    const i = currentSeg(now());
    const seg = segs[i >= 0 ? i : 0];
    if (a === null || b === null) { if (!seg) return toast("nothing to add", true); a = seg.start_s; b = seg.end_s; }
    const kf = seg && (seg.keyframes || []).find(k => k.url);
    bin.add({ asset_id: d.id, segment_id: seg ? seg.id : null, start_s: a, end_s: b, tc_in: tc(a), tc_out: outTc(b), name: d.name, thumbnail_url: kf ? kf.url : null });
  }

  // ---- strip, transcript, side panels
  const strip = h("div", { class: "strip", id: "strip" }, segs.map((s, i) => {
    const kf = (s.keyframes || []).find(k => k.url);
    return h("div", { class: "shot", dataset: { i }, title: `shot ${s.index + 1}: ${s.tc_in} – ${s.tc_out}`, onclick: () => { seek(into(s.start_s)); marks.in = s.start_s; marks.out = s.end_s; update(); } },
      thumbImg(kf && kf.url, `shot ${s.index + 1}`), h("div", { class: "tc" }, `${s.index + 1} · ${s.tc_in}`));
  }));
  const lines = (d.transcript || []).map(l => h("div", { class: "tline", onclick: () => seek(into(l.start_s)) },
    h("span", { class: "tc" }, tc(l.start_s)), h("span", { text: l.text })));
  const table = (cols, rows, onrow) => rows && rows.length ? h("table", { class: "rowtable" },
    h("thead", {}, h("tr", {}, cols.map(c => h("th", {}, c[0])))),
    h("tbody", {}, rows.map(r => h("tr", { class: onrow ? "click" : "", onclick: onrow ? () => onrow(r) : null }, cols.map(c => h("td", {}, c[1](r)))))))
    : h("div", { class: "empty" }, "none found");
  const shotStart = idx => (segs.find(s => s.index === idx) || { start_s: 0 }).start_s;
  const panels = {
    Transcript: lines.length ? lines : [h("div", { class: "empty" }, d.transcript_info && d.transcript_info.status !== "ok" ? `no transcript (${d.transcript_info.reason || d.transcript_info.status})` : "no speech transcribed")],
    Objects: [table([["shot", r => String(r.shot + 1)], ["object", r => r.label], ["×", r => String(r.count)], ["score", r => r.max_score.toFixed(2)]], d.objects, r => seek(shotStart(r.shot)))],
    Text: [table([["time", r => tc(r.t_s)], ["on screen", r => r.text]], d.screen_text, r => seek(r.t_s))],
    Faces: d.faces && d.faces.length ? [h("div", { class: "facegrid" }, d.faces.map(f => h("div", { class: "face" + (f.low_quality ? " low" : ""), title: `${f.person || "unnamed"} at ${tc(f.t_s)}`, onclick: () => seek(f.t_s) },
      h("img", { src: f.crop_url, alt: "", loading: "lazy" }),
      h("div", { class: "cap" }, f.person_id ? h("a", { href: `#/person/${f.person_id}`, onclick: e => e.stopPropagation() }, f.person || `#${f.person_id}`) : "unassigned"))))]
      : [h("div", { class: "empty" }, "no faces")],
    Info: [table([["", r => r[0]], ["", r => r[1]]], infoRows(d, rate))],
  };
  const body = h("div", { class: "tabbody" });
  const tabButtons = Object.keys(panels).map(name => h("button", { type: "button", onclick: () => showTab(name) }, name));
  function showTab(name) {
    tabButtons.forEach(b => b.classList.toggle("active", b.textContent === name));
    body.replaceChildren(...panels[name]);
  }
  // the first panel with something in it
  const filled = { Transcript: lines.length, Faces: (d.faces || []).length, Objects: (d.objects || []).length, Text: (d.screen_text || []).length };
  showTab(Object.keys(filled).find(k => filled[k]) || "Info");

  function update() {
    const t = now();
    tcBig.textContent = tc(t);
    head.style.left = pct(t);
    const m = [marks.in !== null ? ["IN", tc(marks.in)] : null, marks.out !== null ? ["OUT", outTc(marks.out)] : null].filter(Boolean);
    marksEl.replaceChildren(...m.flatMap(([k, v]) => [h("b", {}, k), ` ${v}  `]));
    if (marks.in !== null) {
      markEl.hidden = false;
      markEl.style.left = pct(marks.in);
      markEl.style.width = pct(Math.max(0, (marks.out ?? marks.in) - marks.in));
    } else markEl.hidden = true;
    const i = currentSeg(t);
    strip.querySelectorAll(".shot").forEach((el, k) => el.classList.toggle("current", k === i));
    (d.transcript || []).forEach((l, k) => lines[k].classList.toggle("current", t >= l.start_s && t < l.end_s));
    if (media) playBtn.textContent = media.paused && !reverseTimer ? "▶" : "❚❚";
  }
  function onKey(e) {
    if (/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName) || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    const acts = {
      " ": () => togglePlay(), k: () => { stopReverse(); media && media.pause(); }, l: () => play(1), j: () => play(-1),
      arrowleft: () => stepFrames(-1), arrowright: () => stepFrames(1),
      i: () => (e.shiftKey ? marks.in !== null && seek(into(marks.in)) : setMark("in")),
      o: () => (e.shiftKey ? marks.out !== null && seek(into(marks.out - 1 / rate)) : setMark("out")),
      c: () => copyText(tc(now())),
    };
    if (acts[k]) { e.preventDefault(); acts[k](); update(); }
  }
  let raf = 0;
  const tick = () => { update(); raf = requestAnimationFrame(tick); };
  if (media) {
    media.addEventListener("loadedmetadata", () => { media.currentTime = into(start) + off; update(); }, { once: true });
    media.addEventListener("timeupdate", update);
    media.addEventListener("play", () => { cancelAnimationFrame(raf); raf = requestAnimationFrame(tick); });
    media.addEventListener("pause", () => { cancelAnimationFrame(raf); update(); });
  }
  document.addEventListener("keydown", onKey);

  const facts = [d.kind, d.duration_s ? `${d.duration_s.toFixed(2)} s` : null, d.width ? `${d.width}×${d.height}` : null,
    d.frame_rate ? `${rate.toFixed(3).replace(/\.?0+$/, "")} fps` : null, d.video_codec, d.audio_codec,
    d.play.source === "proxy" ? "playing the browser proxy" : null].filter(Boolean).join(" · ");
  const el = h("div", {},
    h("div", { class: "asset-head" }, h("h1", { title: d.path, text: d.name }), h("span", { class: "facts" }, facts),
      hitSeg !== null ? h("a", { href: `#/search?like_shot=${hitSeg}` }, "more like this shot") : null,
      d.kind === "video" ? h("a", { href: `#/highlights?asset=${d.id}` }, "highlights of this clip") : null),
    h("div", { class: "asset-layout" },
      h("div", {}, h("div", { class: "player" }, screen, d.kind !== "image" ? [timeline, controls, keys] : null),
        segs.length > 1 || d.kind === "video" ? [h("h2", {}, `Shots (${segs.length})`), strip] : null,
        h("div", { class: "dim mono" }, d.path)),
      h("div", { class: "side" }, h("div", { class: "tabs" }, tabButtons), body)));
  update();
  return { el, cleanup: () => { document.removeEventListener("keydown", onKey); stopReverse(); cancelAnimationFrame(raf); if (media) media.pause(); } };
}

function infoRows(d, rate) {
  const rows = [["path", d.path], ["kind", d.kind], ["state", d.state], ["duration", d.duration_s != null ? `${d.duration_s} s (${timecode(d.duration_s, rate)})` : "–"],
    ["size", d.width ? `${d.width}×${d.height}` : "–"], ["frame rate", d.frame_rate ? `${rate.toFixed(3).replace(/\.?0+$/, "")} fps${d.variable_frame_rate ? " (variable)" : ""}` : "–"], ["video", d.video_codec || "–"], ["audio", d.audio_codec || "–"],
    ["container", d.container || "–"], ["created", d.created_at || "–"], ["indexed", d.indexed_at || "–"], ["playback", d.play.source || d.play.reason || "–"]];
  for (const w of d.warnings || []) rows.push(["warning", w]);
  for (const [name, st] of Object.entries(d.stages || {})) rows.push([`stage ${name}`, `${st.state} (v${st.version})${st.error ? ": " + st.error : ""}`]);
  return rows;
}
