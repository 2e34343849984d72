// The Pacer console: a page of the node that drives the public API with an organisation's key,
// kept in this tab's session storage only. Every view polls what it shows once a second, so a
// change made anywhere (another operator, the CLI, another node) shows within a second: the API
// is the only source, and polling needs nothing from the nodes that a load balancer could break.
// Data reaches the page as text nodes only (never as HTML).
"use strict";

const API = "/api/public/v1";
const KEY = "pacer.key";
const STATUSES = ["draft", "scheduled", "active", "paused", "completed", "cancelled", "failed"];
const FINAL = ["completed", "failed", "cancelled", "skipped", "unknown", "expired"];
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const PAGE = 25;

let view = null; // { refresh, timer }

// ---- DOM and API helpers ----

/** An element with attributes (`on…` are listeners) and children (strings become text). */
function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function replace(target, ...children) {
  target.replaceChildren(...children.flat(Infinity).filter((child) => child !== null && child !== undefined));
}

function notice(text, bad) {
  const box = document.getElementById("notice");
  box.className = bad ? "bad" : "";
  box.textContent = text;
}

/** Calls the API: `{ok, status, body}`; a refused key signs out. */
async function api(method, path, body, headers) {
  const init = { method, headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY), ...headers } };
  if (body instanceof Blob) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(API + path, init);
  let parsed = null;
  try { parsed = await response.json(); } catch (_) { /* no body */ }
  if (response.status === 401) {
    signOut("The key was refused: sign in again.");
    throw new Error("unauthorized");
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

/** An error answer as one sentence: the message, and the campaign's status for a 409. */
function describeError(reply) {
  const error = (reply.body && reply.body.error) || {};
  let text = `${reply.status}: ${error.message || "the request failed"}`;
  if (error.details && error.details.current_status) text += ` (the campaign is ${error.details.current_status})`;
  return text;
}

function time(text) {
  if (!text) return "—";
  const date = new Date(text);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

function finalCount(counts) {
  return FINAL.reduce((sum, status) => sum + (counts[status] || 0), 0);
}

function progress(campaign) {
  const total = campaign.total_contacts || 0;
  const done = finalCount(campaign);
  return h("span", {},
    h("progress", { max: Math.max(total, 1), value: done, "aria-label": `${campaign.name}: ${done} of ${total} contacts done` }),
    ` ${done} / ${total}`);
}

function statusBadge(status) {
  return h("span", { class: `status status-${status}` }, status);
}

// ---- routing ----

function signOut(message) {
  sessionStorage.removeItem(KEY);
  location.hash = "#/login";
  if (message) notice(message, true);
}

function route() {
  if (view && view.timer) clearInterval(view.timer);
  view = null;
  const main = document.getElementById("main");
  const signedIn = Boolean(sessionStorage.getItem(KEY));
  document.getElementById("nav").hidden = !signedIn;
  const [, page, id] = (location.hash || "#/campaigns").split("/");
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${page}`);
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
  if (!signedIn || page === "login") return showLogin(main);
  const pages = { campaigns: id ? () => showCampaign(main, decodeURIComponent(id)) : () => showCampaigns(main),
                  dnc: () => showDnc(main), "dead-letters": () => showDeadLetters(main) };
  (pages[page] || pages.campaigns)();
  main.focus({ preventScroll: true });
}

/** Runs `refresh` now and every second while the view is shown (never two at once). */
function live(refresh) {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try { await refresh(); } catch (error) { if (error.message !== "unauthorized") notice(`Refresh failed: ${error.message}`, true); }
    running = false;
  };
  view = { refresh: tick, timer: setInterval(tick, 1000) };
  tick();
}

// ---- sign-in ----

function showLogin(main) {
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true, size: 40 });
  const error = h("span", { class: "field-error", id: "key-error" });
  const form = h("form", { class: "login", onsubmit: async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    try {
      const reply = await api("GET", "/batch-calls?limit=1");
      if (!reply.ok) throw new Error(describeError(reply));
      notice("");
      location.hash = "#/campaigns";
      route();
    } catch (failure) {
      input.setAttribute("aria-invalid", "true");
      error.textContent = failure.message === "unauthorized" ? "This key was refused." : failure.message;
    }
  } },
  h("h1", {}, "Sign in"),
  h("p", {}, "Use your organisation's API key. It stays in this browser tab and is forgotten when the tab closes."),
  h("label", { for: "api-key" }, "API key", input, error),
  h("div", {}, h("button", { type: "submit", class: "primary" }, "Sign in")));
  replace(main, form);
  input.setAttribute("aria-describedby", "key-error");
  input.focus();
}

// ---- schedule fields (create and edit) ----

/** The schedule inputs, filled from `campaign` when given; `read()` gives the fields set. */
function scheduleFields(campaign, prefix) {
  const field = (name, label, attrs) => {
    const id = `${prefix}-${name}`;
    const input = h("input", { id, name, ...attrs });
    const error = h("span", { class: "field-error", id: `${id}-error` });
    input.setAttribute("aria-describedby", error.id);
    return { name, input, error, node: h("label", { for: id }, label, input, error) };
  };
  const c = campaign || {};
  const fields = [
    field("start_time", "Window start (HH:MM)", { value: c.start_time || "", placeholder: "09:00", size: 6 }),
    field("end_time", "Window end (HH:MM)", { value: c.end_time || "", placeholder: "17:00", size: 6 }),
    field("timezone", "Timezone", { value: c.timezone || "UTC", size: 18 }),
    field("max_concurrent_calls", "Concurrent calls", { type: "number", min: 1, value: c.max_concurrent_calls || 1, size: 5 }),
    field("max_calls_per_day", "Daily cap (empty: none)", { type: "number", min: 1, value: c.max_calls_per_day || "", size: 7 }),
  ];
  const days = DAYS.map((day, index) => h("input", { type: "checkbox", id: `${prefix}-day-${index + 1}`, value: index + 1,
    checked: (c.working_days || [1, 2, 3, 4, 5]).includes(index + 1) }));
  const daysError = h("span", { class: "field-error", id: `${prefix}-working_days-error` });
  const node = h("fieldset", {}, h("legend", {}, "Schedule"), fields.map((f) => f.node),
    h("fieldset", {}, h("legend", {}, "Working days"),
      days.map((box, index) => h("label", { class: "inline", for: box.id }, box, DAYS[index])), daysError));
  const all = [...fields, { name: "working_days", input: days[0], error: daysError }];
  return {
    node,
    read() {
      const body = {};
      for (const f of fields) {
        const text = f.input.value.trim();
        if (f.name === "max_calls_per_day") body[f.name] = text === "" ? null : Number(text);
        else if (f.name === "max_concurrent_calls") body[f.name] = Number(text);
        else if (text !== "") body[f.name] = text;
      }
      body.working_days = days.filter((box) => box.checked).map((box) => Number(box.value));
      return body;
    },
    /** Shows the API's field error beside its field; clears the others. */
    showError(reply) {
      for (const f of all) { f.error.textContent = ""; f.input.removeAttribute("aria-invalid"); }
      const details = (reply && reply.body && reply.body.error && reply.body.error.details) || {};
      const target = all.find((f) => details.field && details.field.split(/[.[]/)[0] === f.name);
      if (!target) return false;
      target.error.textContent = details.reason || reply.body.error.message;
      target.input.setAttribute("aria-invalid", "true");
      target.input.focus();
      return true;
    },
  };
}

// ---- campaigns ----

function showCampaigns(main) {
  let offset = 0;
  const filter = h("select", { id: "status-filter", onchange: () => { offset = 0; view.refresh(); } },
    h("option", { value: "" }, "Every status"), STATUSES.map((s) => h("option", { value: s }, s)));
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const diagnostics = new Map(); // id -> {at, data}
  const table = h("table", { "aria-label": "Campaigns" },
    h("thead", {}, h("tr", {}, ["Name", "Status", "Progress", "In call", "Calls today", "Next call", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    body);
  replace(main, h("h1", {}, "Campaigns"), newCampaignForm(),
    h("label", { for: "status-filter", class: "inline" }, "Show", filter), table, pager);

  async function act(campaign, command) {
    const reply = await api("POST", `/batch-calls/${campaign.id}/${command}`);
    if (reply.ok) notice(`${campaign.name}: ${command} → ${reply.body.data.status}`);
    else notice(`${campaign.name}: ${command} refused. ${describeError(reply)}`, true);
    view.refresh();
  }

  function actions(campaign) {
    const buttons = [];
    const add = (command, label) => buttons.push(h("button", { type: "button", "data-command": command,
      "aria-label": `${label} ${campaign.name}`, onclick: () => act(campaign, command) }, label));
    if (campaign.status === "draft") add("schedule", "Schedule");
    if (["active", "scheduled"].includes(campaign.status)) add("pause", "Pause");
    if (campaign.status === "paused") add("resume", "Resume");
    if (["draft", "scheduled", "active", "paused"].includes(campaign.status)) add("cancel", "Cancel");
    return h("div", { class: "actions" }, buttons);
  }

  live(async () => {
    const status = filter.value ? `&status=${filter.value}` : "";
    const reply = await api("GET", `/batch-calls?limit=${PAGE}&offset=${offset}${status}`);
    if (!reply.ok) return notice(describeError(reply), true);
    const campaigns = reply.body.data;
    // Calls today and the next call come from each running campaign's diagnostics, every 30 s:
    // a diagnosis reads up to 10 000 waiting contacts, too much to ask of the store for every
    // visible row every second.
    const now = Date.now();
    await Promise.all(campaigns.filter((c) => ["active", "scheduled", "paused"].includes(c.status))
      .filter((c) => !diagnostics.has(c.id) || now - diagnostics.get(c.id).at > 30000)
      .map(async (c) => {
        const answer = await api("GET", `/batch-calls/${c.id}/diagnostics`);
        if (answer.ok) diagnostics.set(c.id, { at: now, data: answer.body.data });
      }));
    replace(body, campaigns.map((campaign) => {
      const d = (diagnostics.get(campaign.id) || {}).data;
      const cap = campaign.max_calls_per_day ? ` / ${campaign.max_calls_per_day}` : "";
      return h("tr", { "data-id": campaign.id },
        h("td", {}, h("a", { href: `#/campaigns/${encodeURIComponent(campaign.id)}` }, campaign.name)),
        h("td", { class: "status-cell" }, statusBadge(campaign.status)),
        h("td", { class: "progress-cell" }, progress(campaign)),
        h("td", {}, campaign.in_progress),
        h("td", {}, d ? `${d.calls_today}${cap}` : "—"),
        h("td", {}, d ? time(d.next_call_at) : "—"),
        h("td", {}, actions(campaign)));
    }));
    if (campaigns.length === 0) replace(body, h("tr", {}, h("td", { colspan: 7 }, "No campaign.")));
    // The first render, for the page's timing (`performance.getEntriesByName`).
    if (performance.getEntriesByName("pacer:campaigns-rendered").length === 0) performance.mark("pacer:campaigns-rendered");
    const total = reply.body.pagination.total;
    replace(pager,
      h("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); view.refresh(); } }, "Previous"),
      h("span", {}, `${total === 0 ? 0 : offset + 1}–${offset + campaigns.length} of ${total}`),
      h("button", { type: "button", disabled: !reply.body.pagination.has_more, onclick: () => { offset += PAGE; view.refresh(); } }, "Next"));
  });
}

/** Creates a draft campaign from a name, an agent, a schedule and a CSV file of contacts. */
function newCampaignForm() {
  const name = h("input", { id: "new-name", required: true, size: 24 });
  const agent = h("input", { id: "new-agent", required: true, size: 16 });
  const file = h("input", { id: "new-file", type: "file", accept: ".csv,text/csv" });
  const region = h("input", { id: "new-region", size: 3, placeholder: "US", value: "US" });
  const schedule = scheduleFields(null, "new");
  const result = h("div", { id: "new-result", role: "status", "aria-live": "polite" });
  const form = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    const body = { name: name.value.trim(), agent_id: agent.value.trim(), ...schedule.read() };
    if (body.max_calls_per_day === null) delete body.max_calls_per_day;
    const created = await api("POST", "/batch-calls", body);
    if (!created.ok) {
      if (!schedule.showError(created)) result.textContent = describeError(created);
      return;
    }
    schedule.showError(null);
    const id = created.body.data.id;
    let text = `Created “${body.name}” (draft).`;
    if (file.files.length > 0) {
      const query = region.value.trim() ? `?default_region=${encodeURIComponent(region.value.trim())}` : "";
      const imported = await api("POST", `/batch-calls/${id}/contacts/import${query}`, file.files[0], { "Content-Type": "text/csv" });
      if (imported.ok) {
        const d = imported.body.data;
        const reasons = Object.entries(d.failed_by_reason).map(([r, n]) => `${n} ${r}`).join(", ");
        text += ` ${d.added_count} contacts imported${d.failed_count ? `, ${d.failed_count} not (${reasons})` : ""}.`;
      } else text += ` The import was refused: ${describeError(imported)}`;
    }
    result.textContent = text;
    form.reset();
    view.refresh();
  } },
  h("h2", {}, "New campaign"),
  h("label", { for: "new-name" }, "Name", name),
  h("label", { for: "new-agent" }, "Agent id", agent),
  h("label", { for: "new-file" }, "Contacts (CSV)", file),
  h("label", { for: "new-region" }, "Region of national numbers", region),
  schedule.node,
  h("button", { type: "submit", class: "primary" }, "Create"), result);
  return h("details", {}, h("summary", {}, "New campaign from a CSV file"), form);
}

// ---- one campaign ----

function showCampaign(main, id) {
  const title = h("h1", {}, "Campaign");
  const controls = h("div", { class: "actions" });
  const summary = h("dl");
  const counters = h("div", { class: "bars", id: "counters" });
  const outcomes = h("div", { class: "bars", id: "outcomes" });
  const hours = h("div", { class: "hours", role: "img", "aria-label": "Calls per hour" });
  const why = h("div", { id: "diagnostics" });
  const forecast = h("dl", { id: "forecast" });
  const contacts = h("div");
  let schedule = null;
  const editSlot = h("div");
  replace(main, h("p", {}, h("a", { href: "#/campaigns" }, "← Campaigns")), title, controls,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "s-summary" }, h("h2", { id: "s-summary" }, "Schedule"), summary),
      h("section", { class: "card", "aria-labelledby": "s-counters" }, h("h2", { id: "s-counters" }, "Contacts"), counters),
      h("section", { class: "card", "aria-labelledby": "s-why" }, h("h2", { id: "s-why" }, "Why isn't it calling?"), why),
      h("section", { class: "card", "aria-labelledby": "s-forecast" }, h("h2", { id: "s-forecast" }, "Forecast"), forecast),
      h("section", { class: "card", "aria-labelledby": "s-outcomes" }, h("h2", { id: "s-outcomes" }, "Outcomes"), outcomes),
      h("section", { class: "card", "aria-labelledby": "s-hours" }, h("h2", { id: "s-hours" }, "Calls per hour"), hours)),
    h("section", { "aria-labelledby": "s-edit" }, h("h2", { id: "s-edit" }, "Edit the schedule"), editSlot),
    h("section", { "aria-labelledby": "s-contacts" }, h("h2", { id: "s-contacts" }, "Contacts"), contacts));
  const contactList = contactsTable(contacts, id);
  let tick = 0;

  async function command(name) {
    const reply = await api("POST", `/batch-calls/${id}/${name}`);
    if (reply.ok) notice(`${name} → ${reply.body.data.status}`);
    else notice(`${name} refused. ${describeError(reply)}`, true);
    view.refresh();
  }

  live(async () => {
    const reply = await api("GET", `/batch-calls/${id}`);
    if (!reply.ok) return notice(describeError(reply), true);
    const c = reply.body.data;
    title.textContent = c.name;
    title.append(" ", statusBadge(c.status));
    const buttons = [];
    const add = (name, label) => buttons.push(h("button", { type: "button", "data-command": name, onclick: () => command(name) }, label));
    if (c.status === "draft") add("schedule", "Schedule");
    if (["active", "scheduled"].includes(c.status)) add("pause", "Pause");
    if (c.status === "paused") add("resume", "Resume");
    if (["draft", "scheduled", "active", "paused"].includes(c.status)) add("cancel", "Cancel");
    replace(controls, buttons, h("span", { class: "progress-cell" }, progress(c)));
    const windows = (c.calling_windows || []).map((w) => `${w.days.map((d) => DAYS[d - 1]).join(" ")} ${w.start_time}–${w.end_time}`);
    replace(summary, [["Timezone", c.timezone], ["Windows", windows.join("; ") || "all day, every working day"],
      ["Concurrent calls", c.max_concurrent_calls], ["Daily cap", c.max_calls_per_day || "none"],
      ["Retries", c.retry_failed ? `${c.max_retry_attempts} after ${c.retry_delay_minutes} min` : "off"],
      ["Expires", time(c.expires_at)], ["Updated", time(c.updated_at)]].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    if (!schedule) {
      schedule = scheduleFields(c, "edit");
      const form = h("form", { id: "edit-form", onsubmit: async (event) => {
        event.preventDefault();
        const patched = await api("PATCH", `/batch-calls/${id}`, schedule.read());
        if (patched.ok) { schedule.showError(null); notice("The schedule was saved; waiting contacts follow it."); view.refresh(); }
        else if (!schedule.showError(patched)) notice(describeError(patched), true);
        else notice("The schedule was not saved: see the field marked.", true);
      } }, schedule.node, h("button", { type: "submit", class: "primary" }, "Save the schedule"));
      replace(editSlot, form);
    }
    const counts = ["pending", "in_progress", ...FINAL].map((s) => [s, c[s] || 0]);
    bars(counters, counts, c.total_contacts);
    // The diagnosis (up to 10 000 waiting contacts read) every 5 s, the analytics every 2 s.
    if (tick % 5 === 0) {
      const d = await api("GET", `/batch-calls/${id}/diagnostics`);
      if (d.ok) showWhy(why, d.body.data);
    }
    if (tick % 2 === 0) {
      const a = await api("GET", `/batch-calls/${id}/analytics`);
      if (a.ok) {
        bars(outcomes, Object.entries(a.body.data.calls.by_outcome), a.body.data.calls.total);
        const perHour = a.body.data.calls_per_hour.slice(-24);
        const most = Math.max(1, ...perHour.map((x) => x.calls));
        replace(hours, perHour.length ? perHour.map((x) => {
          const bar = h("div", { title: `${x.hour}: ${x.calls} calls` });
          bar.style.height = `${(100 * x.calls) / most}%`;
          return bar;
        }) : h("p", { class: "muted" }, "No call yet."));
      }
    }
    if (tick % 5 === 0) {
      const f = await api("GET", `/batch-calls/${id}/forecast`);
      if (f.ok) replace(forecast, [["Done by", time(f.body.data.estimated_completion_at)], ["Contacts at risk", f.body.data.contacts_at_risk],
        ["Limited by", f.body.data.limiting_factor || "—"], ["Waiting", f.body.data.waiting]].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    }
    if (tick % 2 === 0) await contactList.refresh();
    tick += 1;
  });
}

function bars(target, rows, total) {
  replace(target, rows.flatMap(([label, n]) => {
    const bar = h("div", { class: "bar", role: "img", "aria-label": `${label}: ${n}` });
    bar.style.width = `${total ? (100 * n) / total : 0}%`;
    return [h("span", {}, label), h("div", {}, bar), h("span", { "data-count": label }, n)];
  }));
}

function showWhy(target, d) {
  const lines = [h("p", {}, d.calling_now ? "Calling now." : "Not calling now.",
    ` ${d.in_flight} of ${d.concurrency_limit} lines in use; ${d.calls_today} calls today${d.max_calls_per_day ? ` of ${d.max_calls_per_day}` : ""}.`,
    d.next_call_at ? ` Next call ${time(d.next_call_at)}.` : "")];
  if (d.blocked_by.length) lines.push(h("ul", {}, d.blocked_by.map((b) => h("li", {}, h("strong", {}, b.rule), `: ${b.detail}`, b.until ? ` (until ${time(b.until)})` : ""))));
  replace(target, lines);
}

/** The contacts of a campaign, filtered by status or by held / skip reason, paged. */
function contactsTable(target, id) {
  let offset = 0;
  const filter = h("select", { id: "contact-filter", onchange: () => { offset = 0; table.refresh(); } },
    h("option", { value: "" }, "Every contact"),
    ["pending", "scheduled", "in_progress", ...FINAL].map((s) => h("option", { value: `status=${s}` }, `status: ${s}`)),
    ["paused", "not_started", "window", "working_day", "legal_hours", "holiday", "quiet_hours", "frequency_cap", "callback_pending"]
      .map((r) => h("option", { value: `held_reason=${r}` }, `held: ${r}`)),
    ["dnc", "timezone_unresolvable", "expired"].map((r) => h("option", { value: `skip_reason=${r}` }, `skipped: ${r}`)));
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  replace(target, h("label", { for: "contact-filter", class: "inline" }, "Show", filter),
    h("table", { "aria-label": "Contacts" }, h("thead", {}, h("tr", {}, ["Number", "Name", "Status", "Reason", "Next", "Attempts", "Last call"].map((t) => h("th", { scope: "col" }, t)))), body),
    pager);
  const table = {
    async refresh() {
      const query = filter.value ? `&${filter.value}` : "";
      const reply = await api("GET", `/batch-calls/${id}/contacts?limit=${PAGE}&offset=${offset}${query}`);
      if (!reply.ok) return;
      replace(body, reply.body.data.map((c) => h("tr", {},
        h("td", {}, c.phone_number), h("td", {}, [c.first_name, c.last_name].filter(Boolean).join(" ")),
        h("td", {}, c.status), h("td", {}, c.held_reason || c.skip_reason || ""),
        h("td", {}, time(c.next_eligible_at || c.scheduled_at)), h("td", {}, c.attempts), h("td", {}, c.call_status || ""))));
      const total = reply.body.pagination.total;
      replace(pager,
        h("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); table.refresh(); } }, "Previous contacts"),
        h("span", {}, `${total === 0 ? 0 : offset + 1}–${offset + reply.body.data.length} of ${total}`),
        h("button", { type: "button", disabled: !reply.body.pagination.has_more, onclick: () => { offset += PAGE; table.refresh(); } }, "Next contacts"));
    },
  };
  return table;
}

// ---- do-not-call list ----

function showDnc(main) {
  let offset = 0;
  const number = h("input", { id: "dnc-number", size: 18, placeholder: "+14155550101 or a prefix" });
  const reason = h("input", { id: "dnc-reason", size: 16 });
  const file = h("input", { id: "dnc-file", type: "file", accept: ".csv,text/csv" });
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const add = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    const value = number.value.trim();
    const entry = { [value.length <= 8 ? "prefix" : "phone_number"]: value };
    if (reason.value.trim()) entry.reason = reason.value.trim();
    const reply = await api("POST", "/dnc", { entries: [entry] });
    notice(reply.ok ? `${value} is on the list; no call to it starts from now on.` : describeError(reply), !reply.ok);
    if (reply.ok) add.reset();
    view.refresh();
  } }, h("label", { for: "dnc-number" }, "Number or prefix", number), h("label", { for: "dnc-reason" }, "Reason", reason),
  h("button", { type: "submit", class: "primary" }, "Add"));
  const upload = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    const reply = await api("POST", "/dnc/import", file.files[0], { "Content-Type": "text/csv" });
    notice(reply.ok ? `${reply.body.data.added_count} added, ${reply.body.data.updated_count} updated, ${reply.body.data.failed_count} refused.` : describeError(reply), !reply.ok);
    view.refresh();
  } }, h("label", { for: "dnc-file" }, "Import a CSV file (phone_number or prefix, reason, expires_at)", file),
  h("button", { type: "submit" }, "Import"));
  replace(main, h("h1", {}, "Do-not-call list"), add, upload,
    h("table", { "aria-label": "Do-not-call entries" }, h("thead", {}, h("tr", {}, ["Number or prefix", "Reason", "Expires", "Added", ""].map((t) => h("th", { scope: "col" }, t)))), body), pager);
  live(async () => {
    const reply = await api("GET", `/dnc?limit=${PAGE}&offset=${offset}`);
    if (!reply.ok) return notice(describeError(reply), true);
    replace(body, reply.body.data.map((e) => {
      const target = e.phone_number || e.prefix;
      const path = e.phone_number ? `/dnc/${encodeURIComponent(target)}` : `/dnc/prefix/${encodeURIComponent(target)}`;
      return h("tr", {}, h("td", {}, target, e.prefix ? " (prefix)" : ""), h("td", {}, e.reason || ""), h("td", {}, time(e.expires_at)),
        h("td", {}, time(e.created_at)),
        h("td", {}, h("button", { type: "button", "aria-label": `Remove ${target}`, onclick: async () => {
          const removed = await api("DELETE", path);
          notice(removed.ok ? `${target} removed.` : describeError(removed), !removed.ok);
          view.refresh();
        } }, "Remove")));
    }));
    const total = reply.body.pagination.total;
    replace(pager,
      h("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); view.refresh(); } }, "Previous"),
      h("span", {}, `${total} entries`),
      h("button", { type: "button", disabled: !reply.body.pagination.has_more, onclick: () => { offset += PAGE; view.refresh(); } }, "Next"));
  });
}

// ---- dead letters ----

function showDeadLetters(main) {
  const body = h("tbody");
  const replayAll = h("button", { type: "button", onclick: async () => {
    const reply = await api("POST", "/webhooks/dead-letters/replay", { all: true });
    notice(reply.ok ? `${reply.body.data.replayed_count} events sent again.` : describeError(reply), !reply.ok);
    view.refresh();
  } }, "Send every one again");
  replace(main, h("h1", {}, "Webhooks given up on"),
    h("p", {}, "Events your endpoint kept refusing. Sending again queues them for delivery with their original body."), replayAll,
    h("table", { "aria-label": "Dead letters" }, h("thead", {}, h("tr", {}, ["Event", "Time", "Failed at", "Reason", ""].map((t) => h("th", { scope: "col" }, t)))), body));
  live(async () => {
    const reply = await api("GET", "/webhooks/dead-letters?limit=100");
    if (!reply.ok) return notice(describeError(reply), true);
    replayAll.disabled = reply.body.data.length === 0;
    replace(body, reply.body.data.length ? reply.body.data.map((d) => h("tr", {}, h("td", {}, d.event || "—"), h("td", {}, time(d.timestamp)),
      h("td", {}, time(d.failed_at)), h("td", {}, d.reason),
      h("td", {}, h("button", { type: "button", onclick: async () => {
        const sent = await api("POST", "/webhooks/dead-letters/replay", { ids: [d.id] });
        notice(sent.ok ? "Sent again." : describeError(sent), !sent.ok);
        view.refresh();
      } }, "Send again")))) : h("tr", {}, h("td", { colspan: 5 }, "None.")));
  });
}

document.getElementById("sign-out").addEventListener("click", () => { signOut(); notice("Signed out."); });
window.addEventListener("hashchange", route);
route();
