// The API reference, rendered from the server's OpenAPI document (no CDN).
import { h } from "/static/util.js";

const spec = await (await fetch("/openapi.json")).json();
const root = document.getElementById("docs");
root.append(h("p", { class: "muted" }, spec.info.summary || "", " Send the token (when the server has one) as ",
  h("code", {}, "Authorization: Bearer TOKEN"), "; changes also need ", h("code", {}, "X-Requested-With: assetdb"), "."));
for (const [path, ops] of Object.entries(spec.paths)) {
  for (const [verb, op] of Object.entries(ops)) {
    const params = (op.parameters || []).map(p => `${p.name}${p.required ? "" : "?"}${p.description ? ` (${p.description})` : ""}`);
    const bodyRef = op.requestBody && op.requestBody.content["application/json"].schema.$ref;
    const body = bodyRef ? spec.components.schemas[bodyRef.split("/").pop()] : null;
    root.append(h("div", { class: "op" },
      h("span", { class: `verb ${verb}` }, verb.toUpperCase()), h("span", { class: "path" }, path),
      h("span", { class: "muted" }, "  ", op.summary || ""),
      params.length ? h("div", { class: "params" }, "query/path: ", params.join(", ")) : null,
      body ? h("div", { class: "params" }, "JSON body: ", Object.entries(body.properties).map(([k, v]) => `${k}${(body.required || []).includes(k) ? "" : "?"}`).join(", ")) : null));
  }
}
