// The API reference page: renders the node's OpenAPI document (operations by tag, their
// parameters, bodies, answers and examples) from this node alone, with no external script.
"use strict";

function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) element.setAttribute(name, value);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A schema (its `$ref` followed once) as a short type description. */
function typeOf(schema, doc) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return `array of ${typeOf(schema.items, doc)}`;
  if (schema.oneOf || schema.anyOf) return (schema.oneOf || schema.anyOf).map((s) => typeOf(s, doc)).join(" | ");
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "object";
  return schema.format ? `${type} (${schema.format})` : type;
}

function schemaTable(name, schema) {
  const properties = Object.entries(schema.properties || {});
  const required = new Set(schema.required || []);
  return h("section", { id: `schema-${name}` }, h("h3", {}, name), schema.description ? h("p", {}, schema.description) : null,
    properties.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Field"), h("th", {}, "Type"), h("th", {}, "Description"))),
      h("tbody", {}, properties.map(([field, s]) => h("tr", {}, h("td", {}, h("code", {}, field), required.has(field) ? " (required)" : ""),
        h("td", {}, typeOf(s)), h("td", {}, s.description || ""))))) : null);
}

async function render() {
  const main = document.getElementById("main");
  const doc = await (await fetch("/api/public/v1/openapi.json")).json();
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  const tags = new Map((doc.tags || []).map((t) => [t.name, t.description]));
  main.replaceChildren(...[h("h1", {}, doc.info.title, " API ", h("small", {}, doc.info.version)), h("p", {}, doc.info.description || ""),
    [...byTag].map(([tag, ops]) => h("section", {}, h("h2", {}, tag), h("p", {}, tags.get(tag) || ""),
      ops.map(({ path, method, op }) => {
        const body = op.requestBody && op.requestBody.content;
        return h("details", { id: op.operationId || `${method}-${path}` },
          h("summary", {}, h("code", {}, `${method.toUpperCase()} ${path}`), " ", op.summary || ""),
          op.description ? h("p", {}, op.description) : null,
          (op.parameters || []).length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Parameter"), h("th", {}, "In"), h("th", {}, "Description"))),
            h("tbody", {}, op.parameters.map((p) => h("tr", {}, h("td", {}, h("code", {}, p.name), p.required ? " (required)" : ""), h("td", {}, p.in), h("td", {}, p.description || ""))))) : null,
          body ? Object.entries(body).map(([type, media]) => h("div", {}, h("h4", {}, `Body (${type}): ${typeOf(media.schema)}`),
            media.example !== undefined ? h("pre", {}, typeof media.example === "string" ? media.example : JSON.stringify(media.example, null, 2)) : null)) : null,
          h("h4", {}, "Answers"),
          h("ul", {}, Object.entries(op.responses || {}).map(([status, r]) => h("li", {}, h("strong", {}, status), " ", r.description || "",
            r.content ? ` — ${Object.values(r.content).map((m) => typeOf(m.schema)).join(", ")}` : ""))));
      }))),
    h("h2", {}, "Schemas"), Object.entries((doc.components || {}).schemas || {}).map(([name, schema]) => schemaTable(name, schema))].flat(2));
}

render().catch((error) => { document.getElementById("main").textContent = `The document could not be read: ${error.message}`; });
