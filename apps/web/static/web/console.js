// @ts-check
/**
 * The super-admin console (`http://<base domain>/`): figures, tenants, the
 * platform-support queue, escalations (answered live in the chat window), the audit log
 * and your account (password, sessions).
 */
import { ApiError, chatApi, chatSocket } from "./chat-client.js";
import { accountScreen, forgotPassword } from "./people.js";
import { ChatWindow, ask, byId, fill, fillSelect, h, label, showError, timeOf, toast } from "./ui.js";

/** @typedef {import("./chat-client.js").Message} Message */
/** @typedef {import("./chat-client.js").Me} Me */

const TOKEN_KEY = "console.token";
const PRIORITIES = ["LOW", "MEDIUM", "HIGH", "URGENT"];
const OPEN_TICKET = ["OPEN", "IN_PROGRESS", "WAITING_ON_USER"];
const token = () => localStorage.getItem(TOKEN_KEY);
const api = chatApi({ token, onUnauthorized: () => sessionEnded("Your session has expired. Please sign in again.") });
const socket = chatSocket({ token, ticket: async () => (await api.wsTicket()).ticket });

/** @type {Me | null} */
let me = null;
/** What the open view needs to stop when another opens (a tenant host's socket). @type {Array<() => void>} */
let cleanups = [];

// --- session -----------------------------------------------------------------------------

async function boot() {
  byId("login-form").addEventListener("submit", login);
  byId("forgot").addEventListener("click", () => forgotPassword(api, /** @type {HTMLInputElement} */ (byId("login-email")).value));
  byId("logout").addEventListener("click", async () => {
    await api.logout().catch(() => null);
    sessionEnded("");
  });
  window.addEventListener("hashchange", route);
  wireSocket();
  if (!token()) return showLogin();
  try {
    startSession(await api.me());
  } catch (error) {
    showLogin(error instanceof ApiError && error.status === 401 ? "" : error.message);
  }
}

/** @param {string} [message] */
function showLogin(message) {
  byId("boot").hidden = true;
  byId("view").hidden = true;
  byId("nav").hidden = true;
  byId("session-bar").hidden = true;
  byId("login-view").hidden = false;
  showError(byId("login-error"), message ? { message } : null);
  /** @type {HTMLInputElement} */ (byId("login-email")).focus();
}

/** @param {SubmitEvent} event */
async function login(event) {
  event.preventDefault();
  const data = new FormData(/** @type {HTMLFormElement} */ (event.target));
  try {
    const session = await api.login(String(data.get("email")), String(data.get("password")));
    if (!session.user.isSuperAdmin) {
      localStorage.setItem(TOKEN_KEY, session.token);
      await api.logout().catch(() => null);
      localStorage.removeItem(TOKEN_KEY);
      throw new Error("This console is for the platform's super admins. Sign in on your organisation's address instead.");
    }
    localStorage.setItem(TOKEN_KEY, session.token);
    startSession(await api.me());
  } catch (error) {
    showError(byId("login-error"), error);
  }
}

/** @param {Me} who */
function startSession(who) {
  me = who;
  byId("boot").hidden = true;
  byId("login-view").hidden = true;
  byId("view").hidden = false;
  byId("nav").hidden = false;
  byId("session-bar").hidden = false;
  byId("whoami").textContent = who.user.displayName;
  socket.open();
  refreshEscalationCount();
  route();
}

/** @param {string} message */
function sessionEnded(message) {
  localStorage.removeItem(TOKEN_KEY);
  socket.close();
  stopView();
  me = null;
  showLogin(message);
}

// --- routing -----------------------------------------------------------------------------

function stopView() {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
}

function route() {
  if (!me) return;
  stopView();
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, id] = hash.split("/");
  for (const link of document.querySelectorAll("#nav a")) {
    const active = /** @type {HTMLElement} */ (link).dataset.view === (view || "overview");
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Each view draws into a container of its own: a slower one still loading draws into
  // a detached container, never over the view that replaced it.
  const root = h("div", { class: "console-main" }, h("p", { class: "state muted", text: "Loading…" }));
  byId("view").replaceChildren(root);
  const views = {
    tenants: () => tenantsView(root),
    queue: () => queueView(root),
    escalations: () => (id ? escalationView(root, Number(id)) : escalationsView(root)),
    ticket: () => ticketView(root, id),
    audit: () => auditView(root),
    reports: () => reportsView(root),
    account: async () => me && accountScreen(root, { api, me, signOut: () => byId("logout").click() }),
  };
  const render = views[/** @type {keyof typeof views} */ (view)] || (() => overview(root));
  render().catch((/** @type {any} */ error) => {
    root.replaceChildren(h("div", { class: "panel form-error", role: "alert", text: `Could not load this page: ${error.message}` }));
  });
}

/** @param {string} title @param {...(Node | null)} children */
function panel(title, ...children) {
  return h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", { text: title })), ...children);
}

/** @param {string[]} heads @param {Node[]} rows @param {string} empty */
function table(heads, rows, empty) {
  if (!rows.length) return h("p", { class: "state muted", text: empty });
  return h(
    "div",
    { class: "table-wrap" },
    h("table", {}, h("thead", {}, h("tr", {}, ...heads.map((t) => h("th", { scope: "col", text: t })))), h("tbody", {}, ...rows)),
  );
}

// --- overview: figures as small charts ---------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

/** @param {string} tag @param {Record<string, string | number>} attrs @param {string} [text] */
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Horizontal bars, one per entry. @param {Array<{ label: string, value: number, color: string }>} bars @param {string} title */
function barChart(bars, title) {
  const rowHeight = 26;
  const width = 280;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${bars.length * rowHeight}`, role: "img", "aria-label": title });
  bars.forEach((bar, index) => {
    const y = index * rowHeight;
    const length = Math.max(2, (bar.value / max) * (width - 140));
    chart.append(
      svg("text", { x: 0, y: y + 16 }, bar.label),
      svg("rect", { x: 90, y: y + 5, width: length, height: 14, rx: 3, fill: bar.color }),
      svg("text", { x: 96 + length, y: y + 16 }, String(bar.value)),
    );
  });
  return chart;
}

/** A ring showing part of a whole. @param {number} part @param {number} whole @param {string} color @param {string} title */
function ring(part, whole, color, title) {
  const r = 34;
  const circumference = 2 * Math.PI * r;
  const share = whole ? part / whole : 0;
  const chart = svg("svg", { viewBox: "0 0 90 90", role: "img", "aria-label": title, class: "ring" });
  chart.append(
    svg("circle", { cx: 45, cy: 45, r, fill: "none", stroke: "#eef1f6", "stroke-width": 12 }),
    svg("circle", {
      cx: 45, cy: 45, r, fill: "none", stroke: color, "stroke-width": 12,
      "stroke-dasharray": `${share * circumference} ${circumference}`, transform: "rotate(-90 45 45)",
    }),
    svg("text", { x: 45, y: 50, "text-anchor": "middle", class: "ring-label" }, `${Math.round(share * 100)}%`),
  );
  return chart;
}

/** @param {string} title @param {string | number} big @param {Element | null} chart @param {string} [note] */
function figure(title, big, chart, note) {
  return h("div", { class: "figure" }, h("h3", { text: title }), h("div", { class: "big", text: String(big) }), note ? h("p", { class: "muted small", text: note }) : null, chart);
}

/** @param {HTMLElement} root */
async function overview(root) {
  const f = await api.console.figures();
  const p = f.openPlatformTickets;
  root.replaceChildren(
    h("h1", { text: "Overview" }),
    h(
      "div",
      { class: "figures" },
      figure("Tenants", f.tenants.total, barChart([
        { label: "Active", value: f.tenants.active, color: "#2b8a3e" },
        { label: "Suspended", value: f.tenants.suspended, color: "#c92a2a" },
      ], "Tenants by status")),
      figure("Channels", f.channels, ring(f.activeChannels, f.channels, "#3b5bdb", "Share of active channels"), `${f.activeChannels} active`),
      figure("Open platform tickets", p.total, barChart(
        PRIORITIES.map((name, i) => ({ label: label(name), value: p.byPriority ? p.byPriority[name] || 0 : p[name] || 0, color: ["#94a9ff", "#5c7cfa", "#f08c00", "#c92a2a"][i] })),
        "Open platform tickets by priority",
      )),
      figure("Waiting", f.escalationsWaiting, barChart([
        { label: "Escalations", value: f.escalationsWaiting, color: "#f08c00" },
        { label: "Tenant tickets", value: f.openTenantTickets, color: "#5c7cfa" },
      ], "Escalations and tenant tickets waiting")),
    ),
  );
}

// --- reports -----------------------------------------------------------------------------

/** @param {Date} day */
const isoDay = (day) => day.toISOString().slice(0, 10);

/** @param {number | null} seconds */
function duration(seconds) {
  if (seconds === null) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/** Figures and a chart of tickets opened per group. @param {string} title @param {any} part @param {string} groupBy */
function reportPanel(title, part, groupBy) {
  const t = part.totals;
  /** @param {string} name @param {string} value */
  const item = (name, value) => h("div", {}, h("dt", { text: name }), h("dd", { text: value }));
  const bars = part.groups.map((/** @type {any} */ g) => ({
    label: g.key === null ? "–" : groupBy === "day" || groupBy === "tenant" ? g.key : label(g.key),
    value: g.opened,
    color: "#5c7cfa",
  }));
  return panel(
    title,
    h(
      "dl",
      { class: "report-figures" },
      item("Opened", String(t.opened)),
      item("Resolved", String(t.resolved)),
      item("Escalated", String(t.escalated)),
      item("First response (median / p90)", `${duration(t.firstResponseSeconds.median)} / ${duration(t.firstResponseSeconds.p90)}`),
      item("Resolution (median / p90)", `${duration(t.resolutionSeconds.median)} / ${duration(t.resolutionSeconds.p90)}`),
      item("SLA breached", t.slaBreachRate === null ? "–" : `${Math.round(t.slaBreachRate * 100)} %`),
      item("Satisfaction", t.csat.average === null ? "–" : `${t.csat.average.toFixed(1)} / 5 (${t.csat.count})`),
    ),
    bars.length ? barChart(bars.slice(0, 40), `Tickets opened per ${groupBy}`) : null,
  );
}

/** @param {HTMLElement} root */
async function reportsView(root) {
  const today = new Date();
  const from = /** @type {HTMLInputElement} */ (h("input", { type: "date", id: "report-from", value: isoDay(new Date(today.getTime() - 29 * 86400000)) }));
  const to = /** @type {HTMLInputElement} */ (h("input", { type: "date", id: "report-to", value: isoDay(new Date(today.getTime() + 86400000)) }));
  const group = /** @type {HTMLSelectElement} */ (h("select", { id: "report-group" }));
  fillSelect(group, [["", "Nothing (totals)"], ["day", "Day"], ["category", "Category"], ["priority", "Priority"], ["tenant", "Tenant"]]);
  const tenantInput = /** @type {HTMLInputElement} */ (h("input", { id: "report-tenant", placeholder: "every tenant", maxlength: 63 }));
  const out = h("div", { class: "reports-out" });
  const error = h("div", { class: "form-error", role: "alert", hidden: true });
  const show = async (/** @type {Event} */ event) => {
    event.preventDefault();
    const slug = tenantInput.value.trim();
    const groupBy = group.value === "tenant" && slug ? "" : group.value;
    const query = { from: from.value, to: to.value, ...(groupBy ? { groupBy } : {}) };
    try {
      if (slug) {
        const r = await api.console.tenantReports(slug, /** @type {any} */ (query));
        out.replaceChildren(
          reportPanel(`${r.tenant}: its support desk`, r.desk, groupBy),
          reportPanel(`${r.tenant}: its platform tickets`, r.platformTickets, groupBy),
        );
      } else {
        const r = await api.console.reports(/** @type {any} */ (query));
        out.replaceChildren(
          reportPanel("Every tenant's support desk (daily rollups)", r.tenants, groupBy),
          reportPanel("Platform-support tickets", r.platformTickets, groupBy),
        );
      }
      showError(error, null);
    } catch (e) {
      showError(error, e);
    }
  };
  const form = h(
    "form",
    { class: "panel report-form", novalidate: true, onsubmit: show },
    h("div", {}, h("label", { for: "report-from", text: "From" }), from),
    h("div", {}, h("label", { for: "report-to", text: "To (not included)" }), to),
    h("div", {}, h("label", { for: "report-group", text: "Group by" }), group),
    h("div", {}, h("label", { for: "report-tenant", text: "Tenant" }), tenantInput),
    h("button", { type: "submit", class: "btn btn-primary", text: "Show" }),
    error,
  );
  root.replaceChildren(h("h1", { text: "Support reports" }), form, out);
  form.requestSubmit();
}

// --- tenants -----------------------------------------------------------------------------

/** @param {HTMLElement} root */
async function tenantsView(root) {
  const search = /** @type {HTMLInputElement} */ (h("input", { type: "search", id: "tenant-search", placeholder: "Search by slug or name", "aria-label": "Search tenants" }));
  const status = /** @type {HTMLSelectElement} */ (h("select", { id: "tenant-status", "aria-label": "Status" }));
  fillSelect(status, [["", "Any status"], ["ACTIVE", "Active"], ["SUSPENDED", "Suspended"]]);
  const list = h("div", {});
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-ghost", text: "More tenants", hidden: true }));
  /** @type {string | null} */
  let next = null;
  /** @type {Node[]} */
  let rows = [];
  const load = async (/** @type {boolean} */ fresh) => {
    const page = await api.console.tenants({ search: search.value.trim(), status: status.value, after: fresh ? undefined : next });
    rows = fresh ? page.tenants.map(tenantRow) : [...rows, ...page.tenants.map(tenantRow)];
    next = page.next;
    more.hidden = !next;
    list.replaceChildren(table(["Tenant", "Status", "Members", "Channels", "Open tickets", "Escalated", ""], rows, "No tenants match."));
  };
  /** @param {any} t */
  const tenantRow = (t) =>
    h(
      "tr",
      { dataset: { slug: t.slug } },
      h("td", {}, h("strong", { text: t.name }), h("div", { class: "muted small", text: `${t.slug} · ${t.host}` })),
      h("td", {}, h("span", { class: `chip status-${t.status.toLowerCase()}`, text: label(t.status) }), t.suspensionReason ? h("div", { class: "muted small", text: t.suspensionReason }) : null),
      h("td", { text: String(t.counts.members) }),
      h("td", { text: `${t.counts.activeChannels} / ${t.counts.channels}` }),
      h("td", { text: String(t.counts.openTickets + t.counts.openPlatformTickets) }),
      h("td", { text: String(t.counts.escalatedChannels) }),
      h("td", {}, ...tenantActions(t, () => load(true))),
    );
  let timer = /** @type {any} */ (null);
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(true), 250);
  });
  status.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));
  root.replaceChildren(
    h("h1", { text: "Tenants" }),
    provisionPanel(() => load(true)),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", { text: "All tenants" }), h("div", { class: "toolbar" }, search, status)), list, more),
  );
  await load(true);
}

/** @param {any} t @param {() => void} reload */
function tenantActions(t, reload) {
  const slug = t.slug;
  /** @param {string} text @param {() => Promise<void>} run @param {string} [cls] */
  const button = (text, run, cls = "btn btn-small") =>
    h("button", { type: "button", class: cls, text, "aria-label": `${text} ${slug}`, onclick: () => run().catch((e) => toast(e.message, "error")) });
  return [
    t.status === "SUSPENDED"
      ? button("Reactivate", async () => {
          await api.console.reactivate(slug);
          toast(`${slug} is active again.`);
          reload();
        })
      : button("Suspend", async () => {
          const reason = await ask({ title: `Suspend ${slug}?`, text: "Its people are signed out of live chat and its host refuses requests until reactivated.", field: "Reason", confirmLabel: "Suspend", danger: true });
          if (!reason) return;
          await api.console.suspend(slug, reason);
          toast(`${slug} is suspended.`);
          reload();
        }, "btn btn-small btn-warn"),
    button("Export", async () => {
      const blob = await api.console.exportTenant(slug);
      const link = /** @type {HTMLAnchorElement} */ (h("a", { href: URL.createObjectURL(blob), download: `${slug}-export.json` }));
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    }),
    button("Delete", async () => {
      const typed = await ask({ title: `Delete ${slug} for good?`, text: `Its schema, messages and memberships are dropped. Type ${slug} to confirm.`, field: "Tenant slug", expect: slug, confirmLabel: "Delete", danger: true });
      if (!typed) return;
      await api.console.remove(slug, typed);
      toast(`${slug} was deleted.`);
      reload();
    }, "btn btn-small btn-danger"),
  ];
}

/** @param {() => void} reload */
function provisionPanel(reload) {
  const error = h("div", { class: "form-error", role: "alert", hidden: true });
  const result = h("div", { role: "status" });
  /** @param {string} id @param {string} text @param {Record<string, any>} attrs */
  const field = (id, text, attrs) => h("div", {}, h("label", { for: id, text }), h("input", { id, ...attrs }));
  const form = h(
    "form",
    { class: "provision", novalidate: true },
    field("new-slug", "Slug", { name: "slug", required: true, pattern: "[a-z0-9-]+", placeholder: "initech" }),
    field("new-name", "Name", { name: "name", required: true, placeholder: "Initech Quiz" }),
    field("new-admin", "First admin's email", { name: "adminEmail", type: "email", required: true }),
    field("new-admin-name", "Admin's name (optional)", { name: "adminName" }),
    h("button", { type: "submit", class: "btn btn-primary", text: "Provision" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (form)));
    if (!data.adminName) delete data.adminName;
    showError(error, null);
    try {
      const created = await api.console.provision(/** @type {any} */ (data));
      /** @type {HTMLFormElement} */ (form).reset();
      result.replaceChildren(
        h("p", {}, "Provisioned ", h("strong", { text: created.tenant.name }), ` at ${created.host}.`),
        created.adminPassword
          ? h("p", {}, `${created.admin.email}'s password, shown once: `, h("span", { class: "secret", text: created.adminPassword }))
          : h("p", { class: "muted", text: `${created.admin.email} already had an account and is now its admin.` }),
      );
      reload();
    } catch (e) {
      showError(error, e);
    }
  });
  return panel("Provision a tenant", error, form, result);
}

// --- platform-support queue --------------------------------------------------------------

/** @param {HTMLElement} root */
async function queueView(root) {
  const page = await api.console.tickets({ limit: 100 });
  const rows = page.tickets.map((/** @type {any} */ t) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/ticket/${t.id}`, text: t.subject || "(no subject)" })),
      h("td", { text: t.tenant || "" }),
      h("td", {}, h("span", { class: `chip prio-${t.ticket.priority.toLowerCase()}`, text: label(t.ticket.priority) })),
      h("td", { text: label(t.ticket.status) }),
      h("td", { text: label(t.ticket.category) }),
      h("td", { text: t.assignedTo ? t.assignedTo.displayName : "Unassigned" }),
      h("td", { text: timeOf(t.createdAt) }),
    ),
  );
  root.replaceChildren(
    h("h1", { text: "Platform-support queue" }),
    panel(`${page.total} open`, table(["Subject", "Tenant", "Priority", "Status", "Category", "Assignee", "Opened"], rows, "The queue is empty.")),
  );
}

/** The chat window of the console, in a panel. @param {string} title */
function chatPanel(title) {
  const thread = h(
    "div",
    { class: "escalation-chat thread" },
    h("header", { class: "thread-head" }, h("div", { class: "thread-title" }, h("h2", { text: title }), h("div", { class: "thread-meta" })), h("div", { class: "ticket-actions" })),
    h("div", { class: "scroller", tabindex: "0", "aria-label": "Messages" }, h("p", { class: "older-loading muted", text: "Loading older messages…" }), h("p", { class: "empty-thread muted", hidden: true, text: "No messages yet." }), h("ol", { class: "messages", role: "log", "aria-live": "polite" })),
    h("div", { class: "thread-foot" }, h("div", { class: "typing muted", "aria-live": "polite" }), h("div", { class: "receipts muted" })),
    h("form", { class: "composer", novalidate: true }, h("div", { class: "composer-tools" }, h("label", { class: "note-toggle" }, h("input", { type: "checkbox", class: "note-check" }), "Internal note (staff only)")), h("label", { for: "composer-input", class: "sr-only", text: "Reply" }), h("textarea", { id: "composer-input", rows: "2", maxlength: "10000" }), h("button", { type: "submit", class: "btn btn-primary", text: "Send" }), h("div", { class: "form-error", role: "alert", hidden: true })),
  );
  const check = /** @type {HTMLInputElement} */ (thread.querySelector(".note-check"));
  const form = /** @type {HTMLElement} */ (thread.querySelector(".composer"));
  check.addEventListener("change", () => form.classList.toggle("noting", check.checked));
  return thread;
}

/** The kind the composer sends: a note while its switch is on. @param {HTMLElement} thread */
function kindOf(thread) {
  return /** @type {HTMLInputElement} */ (thread.querySelector(".note-check")).checked ? "NOTE" : "USER";
}

/**
 * The platform's canned responses as a picker in the composer; choosing one sends it,
 * rendered for the ticket. @param {HTMLElement} thread @param {string} id @param {ChatWindow} chat
 */
async function cannedPicker(thread, id, chat) {
  const picker = /** @type {HTMLSelectElement} */ (h("select", { class: "canned-picker", "aria-label": "Canned response" }));
  const { cannedResponses } = await api.cannedResponses();
  fillSelect(picker, [["", cannedResponses.length ? "Canned response…" : "No canned responses"], ...cannedResponses.map((r) => /** @type {[string, string]} */ ([String(r.id), `/${r.shortcut} · ${r.title}`]))]);
  picker.addEventListener("change", async () => {
    if (!picker.value) return;
    try {
      chat.append(await api.sendCanned(id, Number(picker.value)));
    } catch (error) {
      toast(error.message, "error");
    }
    picker.value = "";
  });
  /** @type {HTMLElement} */ (thread.querySelector(".composer-tools")).append(picker);
}

/** A platform ticket, worked on the public host as any channel. @param {HTMLElement} root @param {string} id */
async function ticketView(root, id) {
  const detail = await api.channel(id);
  const thread = chatPanel(detail.subject);
  const chat = new ChatWindow(thread, me ? me.user.id : 0, {
    loadOlder: (before) => api.messages(id, { before }),
    send: (content) => socket.send(id, content, /** @type {"USER" | "NOTE"} */ (kindOf(thread))),
    typing: () => socket.typing(id),
    seen: (m) => socket.state === "open" && socket.markRead(id, m.id).catch(() => null),
  });
  const actions = /** @type {HTMLElement} */ (thread.querySelector(".ticket-actions"));
  const meta = /** @type {HTMLElement} */ (thread.querySelector(".thread-meta"));
  /** @param {any} c */
  const renderHead = (c) => {
    fill(meta,
      h("span", { class: "chip", text: c.tenant || "" }),
      h("span", { class: `chip status-${c.status.toLowerCase()}`, text: label(c.status) }),
      c.ticket ? h("span", { class: "chip", text: `Ticket: ${label(c.ticket.status)}` }) : null,
      c.ticket ? h("span", { class: `chip prio-${c.ticket.priority.toLowerCase()}`, text: label(c.ticket.priority) }) : null,
      c.assignedTo ? h("span", { class: "muted small", text: `Assigned to ${c.assignedTo.displayName}` }) : null,
    );
    const open = c.ticket && c.ticket.status !== "CLOSED" && c.status !== "ARCHIVED";
    const status = /** @type {HTMLSelectElement} */ (h("select", { "aria-label": "Ticket status" }));
    fillSelect(status, OPEN_TICKET.map((s) => [s, label(s)]));
    if (c.ticket) status.value = c.ticket.status;
    status.addEventListener("change", () => run(api.updateTicket(id, { status: /** @type {any} */ (status.value) })));
    actions.replaceChildren(
      ...(open
        ? [
            h("button", { type: "button", class: "btn btn-small", text: "Assign to me", onclick: () => me && run(api.assign(id, me.user.id)) }),
            c.status !== "RESOLVED" ? h("button", { type: "button", class: "btn btn-small", text: "Resolve", onclick: () => run(api.resolve(id)) }) : null,
            status,
          ].filter((n) => n !== null)
        : []),
    );
  };
  /** @param {Promise<any>} promise */
  const run = (promise) => promise.then((c) => { renderHead(c); toast("Saved."); }).catch((e) => toast(e.message, "error"));
  renderHead(detail);
  await cannedPicker(thread, id, chat);
  root.replaceChildren(h("p", {}, h("a", { href: "#/queue", text: "← Support queue" })), thread);
  chat.reset(detail.messages.messages, detail.messages.hasMore, detail.participants);
  const offs = liveThread(socket, chat, id, () => api.channel(id).then(renderHead));
  cleanups.push(...offs, () => socket.leave(id));
  const newest = detail.messages.messages[0];
  await socket.join(id, { afterId: newest ? newest.id : 0, afterSeq: newest ? newest.seq : 0 });
}

/**
 * Routes a socket's events for one channel into a chat window.
 * @param {ReturnType<typeof chatSocket>} sock @param {ChatWindow} chat @param {string} id
 * @param {() => void} changed  the channel's status or assignment changed
 */
function liveThread(sock, chat, id, changed) {
  /** @param {(data: any) => void} fn */
  const mine = (fn) => (/** @type {any} */ data) => (data.channelId === id ? fn(data) : null);
  return [
    sock.on("message", mine((m) => chat.append(m))),
    sock.on("message_removed", mine((m) => chat.markRemoved(m))),
    sock.on("message_read", mine((d) => chat.setRead(d.userId, undefined, d.seq))),
    sock.on("user_typing", mine((d) => chat.startTyping(d.userId, d.displayName))),
    sock.on("user_stop_typing", mine((d) => chat.stopTyping(d.userId))),
    sock.on("channel_status_changed", mine(changed)),
    sock.on("channel_assigned", mine(changed)),
  ];
}

// --- escalations -------------------------------------------------------------------------

/** @param {HTMLElement} root */
async function escalationsView(root) {
  const state = /** @type {HTMLSelectElement} */ (h("select", { "aria-label": "State" }));
  fillSelect(state, [["OPEN", "Open"], ["RESOLVED", "Resolved"], ["RETURNED", "Handed back"], ["ARCHIVED", "Archived"]]);
  const list = h("div", {});
  const load = async () => {
    const page = await api.console.escalations({ state: state.value, limit: 100 });
    const rows = page.escalations.map((/** @type {any} */ e) =>
      h(
        "tr",
        { dataset: { id: String(e.id) } },
        h("td", {}, h("a", { href: `#/escalations/${e.id}`, text: e.subject || "(no subject)" })),
        h("td", { text: e.tenantName }),
        h("td", { text: e.reason }),
        h("td", { text: e.escalatedBy ? e.escalatedBy.displayName : "" }),
        h("td", { text: timeOf(e.escalatedAt) }),
      ),
    );
    list.replaceChildren(table(["Subject", "Tenant", "Reason", "By", "When"], rows, "Nothing escalated here."));
  };
  state.addEventListener("change", load);
  root.replaceChildren(h("h1", { text: "Escalations" }), h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", { text: "From every tenant" }), state), list));
  cleanups.push(socket.on("ticket_escalated", () => load()));
  await load();
}

/**
 * One escalation, answered in the chat window. Replies go through the console API; live
 * events come from a socket on the tenant's host (super admins may join its escalated
 * channels there).
 * @param {HTMLElement} root @param {number} id
 */
async function escalationView(root, id) {
  const { escalation, channel } = await api.console.escalation(id);
  const thread = chatPanel(escalation.subject);
  const meta = /** @type {HTMLElement} */ (thread.querySelector(".thread-meta"));
  fill(meta,
    h("span", { class: "chip", text: escalation.tenantName }),
    h("span", { class: `chip status-${channel.status.toLowerCase()}`, text: label(channel.status) }),
    h("span", { class: "muted small", text: `Reason: ${escalation.reason}` }),
  );
  const open = escalation.state === "OPEN";
  const actions = /** @type {HTMLElement} */ (thread.querySelector(".ticket-actions"));
  actions.replaceChildren(
    ...(open
      ? [
          h("button", { type: "button", class: "btn btn-small", text: "Resolve", onclick: () => closeEscalation(api.console.resolveEscalation(id), "Resolved.") }),
          h("button", {
            type: "button",
            class: "btn btn-small",
            text: "Hand back",
            onclick: async () => {
              const note = await ask({ title: "Hand back to the tenant", text: "The note is posted in the channel.", field: "Note", required: false, confirmLabel: "Hand back" });
              if (note !== null) closeEscalation(api.console.returnEscalation(id, note), "Handed back.");
            },
          }),
        ]
      : [h("span", { class: "chip", text: label(escalation.state) })]),
  );
  const chat = new ChatWindow(thread, me ? me.user.id : 0, {
    loadOlder: (before) => api.console.escalationMessages(id, { before }),
    send: async (content) => chat.append(await api.console.reply(id, content, /** @type {"USER" | "NOTE"} */ (kindOf(thread)))),
  });
  root.replaceChildren(h("p", {}, h("a", { href: "#/escalations", text: "← Escalations" })), thread);
  chat.reset(channel.messages.messages, channel.messages.hasMore, channel.participants);
  chat.setComposer(open, "This escalation is closed.");
  const tenantSocket = chatSocket({ token, url: tenantSocketUrl(escalation.tenant) });
  cleanups.push(...liveThread(tenantSocket, chat, escalation.channelId, () => null), () => tenantSocket.close());
  tenantSocket.open();
  const newest = channel.messages.messages[0];
  await tenantSocket.join(escalation.channelId, { afterId: newest ? newest.id : 0, afterSeq: newest ? newest.seq : 0 });
}

/** @param {string} slug */
function tenantSocketUrl(slug) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const port = location.port ? `:${location.port}` : "";
  return `${scheme}://${slug}.${location.hostname}${port}/ws/chat/`;
}

/** @param {Promise<any>} promise @param {string} done */
async function closeEscalation(promise, done) {
  try {
    await promise;
    toast(done);
    route();
  } catch (error) {
    toast(error.message, "error");
  }
}

async function refreshEscalationCount() {
  try {
    const page = await api.console.escalations({ limit: 1 });
    const badge = byId("escalation-count");
    badge.textContent = String(page.total);
    badge.classList.toggle("badge-zero", page.total === 0);
  } catch {
    /* shown again on the next event */
  }
}

// --- audit log ---------------------------------------------------------------------------

/** @param {HTMLElement} root */
async function auditView(root) {
  const tenant = /** @type {HTMLInputElement} */ (h("input", { type: "search", placeholder: "Tenant slug", "aria-label": "Tenant" }));
  const body = h("tbody", {});
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-ghost", text: "Older entries", hidden: true }));
  /** @type {number | undefined} */
  let before;
  const load = async (/** @type {boolean} */ fresh) => {
    const page = await api.console.audit({ tenant: tenant.value.trim(), before: fresh ? undefined : before });
    if (fresh) body.replaceChildren();
    for (const e of page.entries) {
      body.append(
        h("tr", {}, h("td", { text: timeOf(e.at) }), h("td", { text: e.actorEmail }), h("td", {}, h("code", { text: e.action })), h("td", { text: e.tenant }), h("td", { class: "small", text: `${e.targetType} ${e.targetId}` }), h("td", { class: "small muted", text: JSON.stringify(e.details) })),
      );
      before = e.id;
    }
    more.hidden = !page.hasMore;
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: "6", class: "muted", text: "No entries." })));
  };
  let timer = /** @type {any} */ (null);
  tenant.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(true), 250);
  });
  more.addEventListener("click", () => load(false));
  root.replaceChildren(
    h("h1", { text: "Audit log" }),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", { text: "Newest first" }), tenant),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ...["When", "Who", "Action", "Tenant", "Target", "Details"].map((t) => h("th", { scope: "col", text: t })))), body)), more),
  );
  await load(true);
}

// --- the console's socket ----------------------------------------------------------------

function wireSocket() {
  socket.on("ticket_escalated", (data) => {
    refreshEscalationCount();
    const note = toast(`New escalation from ${data.tenant}: ${data.channel.subject || "a ticket"} (${data.reason})`, "info");
    note.classList.add("toast-alert");
    note.setAttribute("role", "alert");
    note.append(" ", h("a", { href: "#/escalations", class: "toast-link", text: "Open escalations" }));
  });
  socket.on("escalation_closed", () => refreshEscalationCount());
  socket.on("channel_created", (channel) => {
    if (channel.type === "PLATFORM_SUPPORT") toast(`New platform ticket from ${channel.tenant}: ${channel.subject}`);
  });
  socket.on("state", (data) => {
    const node = byId("connection");
    const text = { open: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", closed: "Offline" };
    node.textContent = text[/** @type {keyof typeof text} */ (data.state)] || data.state;
    node.className = `conn conn-${data.state}`;
  });
  socket.on("fatal", (data) => {
    if (data.code === 4401) sessionEnded("Your session has expired. Please sign in again.");
  });
}

boot();
