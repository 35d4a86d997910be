// @ts-check
/**
 * The tenant app (`http://<tenant>.<domain>/`): sign-in, the channel list, the chat
 * window and the support desk's ticket actions, over `chat-client.js`; the members,
 * invitations and account screens come from `people.js`.
 */
import { ApiError, chatApi, chatSocket } from "./chat-client.js";
import { accountScreen, forgotPassword, invitationsScreen, membersScreen, pickAssignee } from "./people.js";
import { ChatWindow, ask, byId, fill, fillSelect, h, label, showError, timeOf, toast } from "./ui.js";

/** @typedef {import("./chat-client.js").Channel} Channel */
/** @typedef {import("./chat-client.js").ChannelDetail} ChannelDetail */
/** @typedef {import("./chat-client.js").Message} Message */
/** @typedef {import("./chat-client.js").Me} Me */

const TOKEN_KEY = "chat.token";
const TYPES = ["SUPPORT", "TEAM", "TOURNAMENT", "PLATFORM_SUPPORT"];
const STATUSES = ["ACTIVE", "ESCALATED", "RESOLVED", "ARCHIVED"];
const CATEGORIES = ["TECHNICAL", "BILLING", "FEATURE_REQUEST", "TOURNAMENT_ISSUE", "ACCOUNT", "OTHER"];
const PRIORITIES = ["LOW", "MEDIUM", "HIGH", "URGENT"];
const OPEN_TICKET = ["OPEN", "IN_PROGRESS", "WAITING_ON_USER"];
const STAFF_ROLES = ["TENANT_ADMIN", "MANAGEMENT_TEAM"];
const RATING_DAYS = 7;
const REPORT_GROUPS = ["", "day", "category", "priority", "assignee"];

const token = () => localStorage.getItem(TOKEN_KEY);
const api = chatApi({ token, onUnauthorized: () => sessionEnded("Your session has expired. Please sign in again.") });
const socket = chatSocket({ token, ticket: async () => (await api.wsTicket()).ticket });

/** @type {Me | null} */
let me = null;
/** @type {Map<string, Channel>} */
const channels = new Map();
/** @type {string | null} */
let nextCursor = null;
/** @type {ChannelDetail | null} */
let current = null;
/** @type {Map<number, string>} people seen in channels, for the ticket dialog */
const people = new Map();
let lastMarkedSeq = 0;
/** @type {any} */
let unreadTimer = null;

const chat = new ChatWindow(byId("thread"), 0, {
  loadOlder: (beforeId) => api.messages(requireCurrent().id, { before: beforeId }),
  send: sendMessage,
  typing: () => current && socket.typing(current.id),
  seen: markSeen,
  extra: removeButton,
});

// --- session -----------------------------------------------------------------------------

async function boot() {
  wireStaticControls();
  if (!token()) return showLogin();
  try {
    startSession(await api.me());
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showLogin();
    if (error instanceof ApiError && error.code === "tenant_suspended") return suspended();
    showLogin(error.message);
  }
}

/** @param {string} [message] */
function showLogin(message) {
  byId("boot").hidden = true;
  byId("chat-view").hidden = true;
  byId("people-view").hidden = true;
  byId("session-bar").hidden = true;
  byId("app-nav").hidden = true;
  byId("login-view").hidden = false;
  showError(byId("login-error"), message ? { message } : null);
  /** @type {HTMLInputElement} */ (byId("login-email")).focus();
}

/** @param {SubmitEvent} event */
async function login(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.target);
  const data = new FormData(form);
  const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
  button.disabled = true;
  try {
    const session = await api.login(String(data.get("email")), String(data.get("password")));
    localStorage.setItem(TOKEN_KEY, session.token);
    startSession(await api.me());
  } catch (error) {
    if (error instanceof ApiError && error.code === "tenant_suspended") return suspended();
    showError(byId("login-error"), error);
  } finally {
    button.disabled = false;
  }
}

/** @param {Me} who */
function startSession(who) {
  me = who;
  chat.myId = who.user.id;
  byId("boot").hidden = true;
  byId("login-view").hidden = true;
  byId("chat-view").hidden = false;
  byId("session-bar").hidden = false;
  const staff = who.role === "TENANT_ADMIN" || who.role === "MANAGEMENT_TEAM";
  byId("app-nav").hidden = false;
  byId("nav-members").hidden = !staff;
  byId("nav-invitations").hidden = !staff;
  byId("whoami").textContent = `${who.user.displayName} · ${label(who.role || (who.user.isSuperAdmin ? "SUPER_ADMIN" : ""))}`;
  byId("new-ticket").hidden = !who.role;
  byId("reports-open").hidden = who.role !== "TENANT_ADMIN";
  socket.open();
  loadChannels(true);
  refreshUnread();
  route();
}

async function logout() {
  await api.logout().catch(() => null);
  sessionEnded("");
}

/** @param {string} message */
function sessionEnded(message) {
  localStorage.removeItem(TOKEN_KEY);
  socket.close();
  me = null;
  current = null;
  channels.clear();
  byId("people-view").replaceChildren();
  showLogin(message);
}

function suspended() {
  socket.close();
  byId("boot").hidden = true;
  byId("chat-view").hidden = true;
  byId("people-view").hidden = true;
  byId("app-nav").hidden = true;
  byId("login-view").hidden = true;
  byId("session-bar").hidden = true;
  const notice = byId("notice");
  notice.hidden = false;
  notice.replaceChildren(
    h("h1", { text: "This organisation is suspended" }),
    h("p", { text: "Its chat and support are unavailable for now. Please contact the platform's support team." }),
  );
}

// --- channel list ------------------------------------------------------------------------

function filters() {
  const type = /** @type {HTMLSelectElement} */ (byId("filter-type")).value;
  const status = /** @type {HTMLSelectElement} */ (byId("filter-status")).value;
  return { type: type || undefined, status: status || undefined };
}

/** @param {boolean} fresh */
async function loadChannels(fresh) {
  const state = byId("channels-state");
  if (fresh) {
    channels.clear();
    nextCursor = null;
    byId("channel-list").replaceChildren();
  }
  state.textContent = "Loading channels…";
  try {
    const page = await api.channels({ ...filters(), cursor: fresh ? undefined : nextCursor });
    for (const channel of page.channels) channels.set(channel.id, channel);
    nextCursor = page.next;
    renderChannels();
    state.textContent = channels.size ? "" : "No channels match. Open a ticket to start one.";
  } catch (error) {
    state.textContent = `Could not load channels: ${error.message}`;
  }
  byId("more-channels").hidden = !nextCursor;
}

/** @param {Channel} channel */
function matchesFilters(channel) {
  const { type, status } = filters();
  return (!type || channel.type === type) && (!status || channel.status === status);
}

function renderChannels() {
  const sorted = [...channels.values()]
    .filter(matchesFilters)
    .sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt));
  byId("channel-list").replaceChildren(...sorted.map(channelItem));
}

/** @param {Channel} channel */
function channelItem(channel) {
  const last = channel.lastMessage;
  const preview = !last
    ? "No messages yet"
    : last.removedAt
      ? "Message removed"
      : `${last.sender ? `${last.sender.displayName}: ` : ""}${last.content}`;
  const unread = channel.unreadCount || 0;
  const open = current && current.id === channel.id;
  return h(
    "li",
    {},
    h(
      "a",
      {
        href: `#/c/${channel.id}`,
        class: `channel${open ? " channel-open" : ""}${unread ? " channel-unread" : ""}`,
        "aria-current": open ? "page" : undefined,
        dataset: { id: channel.id },
      },
      h(
        "span",
        { class: "channel-top" },
        h("span", { class: "channel-subject", text: channel.subject || label(channel.type) }),
        h("time", { datetime: channel.lastActivityAt, text: timeOf(channel.lastActivityAt) }),
      ),
      h(
        "span",
        { class: "channel-mid" },
        h("span", { class: `chip chip-${channel.type.toLowerCase()}`, text: label(channel.type) }),
        h("span", { class: `chip status-${channel.status.toLowerCase()}`, text: label(channel.status) }),
        channel.ticket ? h("span", { class: `chip prio-${channel.ticket.priority.toLowerCase()}`, text: label(channel.ticket.priority) }) : null,
        slaChip(channel),
      ),
      h(
        "span",
        { class: "channel-bottom" },
        h("span", { class: "channel-preview", text: preview }),
        unread ? h("span", { class: "badge", "aria-label": `${unread} unread`, text: String(unread) }) : null,
      ),
    ),
  );
}

/**
 * The ticket's SLA state: breached, paused, or when the next target is due (overdue in red).
 * @param {Channel} channel
 */
function slaChip(channel) {
  const sla = channel.ticket?.sla;
  if (!sla || channel.ticket?.status === "CLOSED") return null;
  if (sla.breached) return h("span", { class: "chip sla-breached", text: "SLA breached" });
  if (sla.paused) return h("span", { class: "chip", text: "SLA paused" });
  if (!sla.dueAt) return null;
  const overdue = new Date(sla.dueAt).getTime() <= Date.now();
  return h("span", {
    class: `chip ${overdue ? "sla-breached" : "sla-due"}`,
    title: `Next SLA target due ${new Date(sla.dueAt).toLocaleString()}`,
    text: `Due ${timeOf(sla.dueAt)}`,
  });
}

/** @param {Channel} channel */
function upsertChannel(channel) {
  const known = channels.get(channel.id);
  channels.set(channel.id, { ...known, ...channel, unreadCount: channel.unreadCount ?? known?.unreadCount ?? 0 });
  renderChannels();
  byId("channels-state").textContent = "";
}

/** When each channel's unread count last changed here. @type {Map<string, number>} */
const countChangedAt = new Map();

/** @param {string} id @param {Partial<Channel>} changes */
function patchChannel(id, changes) {
  if ("unreadCount" in changes) countChangedAt.set(id, Date.now());
  const known = channels.get(id);
  if (known) channels.set(id, { ...known, ...changes });
  if (current && current.id === id) {
    current = { ...current, ...changes };
    const quiet = ["lastMessage", "lastActivityAt", "unreadCount"];
    if (Object.keys(changes).some((key) => !quiet.includes(key))) renderThreadHead();
  }
  renderChannels();
}

/** @type {any} */
let listTimer = null;

/** Activity in channels not joined: refresh the first page's previews and order, at most once a second. */
function refreshChannelPage() {
  if (listTimer) return;
  listTimer = setTimeout(async () => {
    listTimer = null;
    const asked = Date.now();
    try {
      const page = await api.channels({ ...filters() });
      for (const channel of page.channels) {
        // A count the socket or a read changed since the request was sent is newer.
        const newer = (countChangedAt.get(channel.id) || 0) >= asked;
        const known = channels.get(channel.id);
        channels.set(channel.id, newer && known ? { ...channel, unreadCount: known.unreadCount } : channel);
      }
      renderChannels();
    } catch {
      /* kept as it was */
    }
  }, 1000);
}

function refreshUnread() {
  clearTimeout(unreadTimer);
  unreadTimer = setTimeout(async () => {
    try {
      const unread = await api.unread();
      const badge = byId("unread-count");
      badge.textContent = String(unread.total);
      badge.classList.toggle("badge-zero", unread.total === 0);
      document.title = `${unread.total ? `(${unread.total}) ` : ""}${byId("tenant-name").textContent} · Chat`;
    } catch {
      /* the next event retries */
    }
  }, 150);
}

// --- the open channel --------------------------------------------------------------------

function route() {
  if (!me) return;
  const screen = location.hash.match(/^#\/(members|invitations|account)$/);
  const view = screen ? screen[1] : "chat";
  for (const link of document.querySelectorAll("#app-nav a")) {
    const here = /** @type {HTMLElement} */ (link).dataset.view === view;
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  byId("chat-view").hidden = !!screen;
  byId("people-view").hidden = !screen;
  if (screen) {
    closeChannel();
    showScreen(screen[1]);
    return;
  }
  const match = location.hash.match(/^#\/c\/([0-9a-f-]+)$/);
  if (match) openChannel(match[1]);
  else closeChannel();
}

/** The members, invitations and account screens. @param {string} name */
function showScreen(name) {
  if (!me) return;
  const root = byId("people-view");
  const staff = me.role === "TENANT_ADMIN" || me.role === "MANAGEMENT_TEAM";
  if (name === "account") accountScreen(root, { api, me, signOut: logout });
  else if (!staff) root.replaceChildren(h("p", { class: "state muted", text: "Only the organisation's staff see this." }));
  else if (name === "members") membersScreen(root, { api, me, selfChanged: () => location.reload() });
  else invitationsScreen(root, { api, me });
  const heading = root.querySelector("h2");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    /** @type {HTMLElement} */ (heading).focus();
  }
}

function requireCurrent() {
  if (!current) throw new Error("no channel open");
  return current;
}

function closeChannel() {
  openings += 1;
  if (current) socket.leave(current.id);
  current = null;
  byId("thread").hidden = true;
  byId("no-channel").hidden = false;
  byId("chat-view").classList.remove("has-open");
  renderChannels();
}

let openings = 0;

/** @param {string} id */
async function openChannel(id) {
  if (!me) return;
  if (current && current.id !== id) socket.leave(current.id);
  byId("chat-view").classList.add("has-open");
  byId("no-channel").hidden = true;
  const opening = ++openings;
  let detail;
  try {
    detail = await api.channel(id);
    if (opening !== openings) return; // another channel was opened meanwhile
  } catch (error) {
    if (opening !== openings) return;
    byId("no-channel").hidden = false;
    byId("thread").hidden = true;
    toast(error.code === "not_found" ? "That channel does not exist or is not yours." : error.message, "error");
    return;
  }
  current = detail;
  lastMarkedSeq = 0;
  for (const p of detail.participants) if (me && p.user.id !== me.user.id) people.set(p.user.id, p.user.displayName);
  byId("thread").hidden = false;
  renderThreadHead();
  const page = detail.messages;
  chat.reset(page.messages, page.hasMore, detail.participants);
  const newest = page.messages[0];
  renderChannels();
  try {
    await socket.join(id, {
      afterId: newest ? newest.id : 0,
      afterSeq: newest ? newest.seq : 0,
      afterPublicSeq: newest ? newest.publicSeq : 0,
    });
  } catch (error) {
    toast(`Live updates paused: ${error.message}`, "error");
  }
}

function renderThreadHead() {
  if (!current || !me) return;
  const c = current;
  byId("thread-subject").textContent = c.subject || label(c.type);
  const meta = byId("thread-meta");
  fill(meta,
    h("span", { class: `chip chip-${c.type.toLowerCase()}`, text: label(c.type) }),
    h("span", { class: `chip status-${c.status.toLowerCase()}`, text: label(c.status) }),
    c.ticket ? h("span", { class: "chip", text: `Ticket: ${label(c.ticket.status)}` }) : null,
    c.ticket ? h("span", { class: `chip prio-${c.ticket.priority.toLowerCase()}`, text: label(c.ticket.priority) }) : null,
    c.ticket ? h("span", { class: "chip", text: label(c.ticket.category) }) : null,
    slaChip(c),
    c.assignedTo ? h("span", { class: "muted small", text: `Assigned to ${c.assignedTo.displayName}` }) : null,
    c.ticket && c.ticket.rating ? ratingChip(c.ticket) : null,
  );
  renderActions();
  const readOnly = c.status === "ARCHIVED" ? "This channel is archived: read only." : c.myRole === "OBSERVER" ? "Observers read but do not post." : "";
  chat.setComposer(!readOnly, readOnly);
  byId("composer-tools").hidden = !answersTicket(c) || !!readOnly;
  if (!answersTicket(c)) setNoting(false);
  byId("rating-form").hidden = !mayRate(c);
}

/** Whether the signed-in person answers this ticket, and so sees and writes its notes. @param {Channel} c */
function answersTicket(c) {
  if (!me || !c.ticket) return false;
  if (c.type === "PLATFORM_SUPPORT") return me.user.isSuperAdmin;
  return me.user.isSuperAdmin || STAFF_ROLES.includes(me.role || "");
}

/** The requester, on a resolved ticket not rated yet, within the rating window. @param {Channel} c */
function mayRate(c) {
  const t = c.ticket;
  if (!me || !t || t.requesterId !== me.user.id || t.status !== "RESOLVED" || t.rating !== null) return false;
  // Resolved just now (a live status change carries no time): the window is open.
  return !t.resolvedAt || Date.now() - Date.parse(t.resolvedAt) < RATING_DAYS * 24 * 3600 * 1000;
}

/** @param {NonNullable<Channel["ticket"]>} t */
function ratingChip(t) {
  return h("span", { class: "chip chip-rating", title: t.ratingComment || "", text: `Rated ${t.rating}/5${t.ratingComment ? `: “${t.ratingComment}”` : ""}` });
}

/** @param {boolean} on */
function setNoting(on) {
  const toggle = /** @type {HTMLInputElement} */ (byId("note-toggle"));
  toggle.checked = on;
  chat.form.classList.toggle("noting", on);
  if (!chat.input.disabled) chat.input.placeholder = on ? "Internal note: only the staff see it" : "Write a message…";
}

/** @param {SubmitEvent} event */
async function submitRating(event) {
  event.preventDefault();
  const c = requireCurrent();
  const form = /** @type {HTMLFormElement} */ (byId("rating-form"));
  const chosen = /** @type {HTMLInputElement | null} */ (form.querySelector("input[name=rating]:checked"));
  const area = /** @type {HTMLElement} */ (form.querySelector(".form-error"));
  if (!chosen) {
    area.hidden = false;
    area.textContent = "Choose a rating from 1 to 5.";
    return;
  }
  try {
    const comment = /** @type {HTMLInputElement} */ (byId("rating-comment")).value;
    const channel = await api.rate(c.id, Number(chosen.value), comment);
    area.hidden = true;
    patchChannel(c.id, { ticket: channel.ticket });
    toast("Thank you for your rating.");
  } catch (error) {
    showError(area, error);
  }
}

/** What the signed-in person may do to the open channel (the server decides again). */
function permissions() {
  const c = requireCurrent();
  const role = me ? me.role : null;
  const superAdmin = !!me && me.user.isSuperAdmin && c.status === "ESCALATED";
  const staff = role === "TENANT_ADMIN" || (role === "MANAGEMENT_TEAM" && c.myRole === "ADMIN") || superAdmin;
  const live = c.status !== "ARCHIVED";
  const ticketOpen = !!c.ticket && c.ticket.status !== "CLOSED";
  return {
    escalate: staff && !superAdmin && live && c.type === "SUPPORT" && c.status !== "ESCALATED",
    assign: staff && live && ticketOpen,
    resolve: staff && live && ticketOpen && c.status !== "RESOLVED",
    edit: staff && live && ticketOpen,
    archive: role === "TENANT_ADMIN" && live && c.type !== "PLATFORM_SUPPORT",
  };
}

function renderActions() {
  const box = byId("ticket-actions");
  const can = permissions();
  const c = requireCurrent();
  const buttons = [];
  if (can.assign) buttons.push(h("button", { type: "button", class: "btn btn-small", text: "Assign", onclick: assign }));
  if (can.escalate) buttons.push(h("button", { type: "button", class: "btn btn-small btn-warn", text: "Escalate", onclick: escalate }));
  if (can.resolve) buttons.push(h("button", { type: "button", class: "btn btn-small", text: "Resolve", onclick: () => act(api.resolve(c.id), "Resolved.") }));
  if (can.archive) buttons.push(h("button", { type: "button", class: "btn btn-small btn-danger", text: "Archive", onclick: archive }));
  const edits = can.edit && c.ticket ? ticketEditors(c) : null;
  box.replaceChildren(...buttons, ...(edits ? [edits] : []));
}

/** @param {Channel} c */
function ticketEditors(c) {
  /** @param {string} name @param {string[]} values @param {string} value */
  const editor = (name, values, value) => {
    const select = /** @type {HTMLSelectElement} */ (h("select", { id: `edit-${name}`, "aria-label": `Ticket ${name}` }));
    fillSelect(select, values.map((v) => [v, label(v)]));
    if (!values.includes(value)) select.prepend(h("option", { value, text: label(value), disabled: true }));
    select.value = value;
    select.addEventListener("change", () => act(api.updateTicket(c.id, { [name]: select.value }), `Ticket ${name} changed.`));
    return select;
  };
  const t = /** @type {NonNullable<Channel["ticket"]>} */ (c.ticket);
  return h(
    "div",
    { class: "ticket-edit" },
    editor("status", OPEN_TICKET, t.status),
    editor("priority", PRIORITIES, t.priority),
    editor("category", CATEGORIES, t.category),
  );
}

/** @param {Promise<any>} promise @param {string} done */
async function act(promise, done) {
  try {
    const channel = await promise;
    if (channel && channel.id) patchChannel(channel.id, channel);
    toast(done);
  } catch (error) {
    toast(error.message, "error");
    if (current) renderActions();
  }
}

async function assign() {
  const c = requireCurrent();
  if (!me) return;
  const assignee = await pickAssignee({ api, me, channel: c });
  if (assignee) act(api.assign(c.id, assignee), "Assigned.");
}

async function escalate() {
  const c = requireCurrent();
  const reason = await ask({ title: "Escalate to platform support", text: "The platform's super admins join the channel.", field: "Reason", confirmLabel: "Escalate" });
  if (reason) act(api.escalate(c.id, reason), "Escalated to platform support.");
}

async function archive() {
  const c = requireCurrent();
  const ok = await ask({ title: "Archive this channel?", text: "It becomes read-only for everyone, for good.", confirmLabel: "Archive", danger: true });
  if (ok) act(api.archive(c.id).then(() => ({ ...c, status: "ARCHIVED" })), "Archived.");
}

/** @param {string} content */
async function sendMessage(content) {
  const c = requireCurrent();
  const kind = answersTicket(c) && /** @type {HTMLInputElement} */ (byId("note-toggle")).checked ? "NOTE" : "USER";
  if (socket.state === "open") return socket.send(c.id, content, kind);
  // Not connected: REST sends it; the socket's catch-up shows it once reconnected.
  const message = await api.send(c.id, content, kind);
  chat.append(message);
  return message;
}

/** @type {any} */
let readTimer = null;

/**
 * Marks the newest message on screen read, at most about twice a second however fast a
 * room moves (each mark is a frame, and frames are rate limited).
 * @param {Message} message
 */
function markSeen(message) {
  if (!current || message.seq <= lastMarkedSeq || message.channelId !== current.id) return;
  lastMarkedSeq = message.seq;
  clearTimeout(readTimer);
  readTimer = setTimeout(() => sendRead(message), 400);
}

/** @param {Message} message */
function sendRead(message) {
  const id = message.channelId;
  const done = socket.state === "open" ? socket.markRead(id, message.id) : api.markRead(id, message.id);
  done
    .then(() => {
      patchChannel(id, { unreadCount: 0 });
      refreshUnread();
    })
    .catch(() => {
      if (current && current.id === id) lastMarkedSeq = 0;
    });
}

/** Moderators remove tournament messages. @param {Message} message */
function removeButton(message) {
  if (!current || current.type !== "TOURNAMENT" || current.myRole !== "ADMIN") return null;
  if (message.kind === "SYSTEM" || message.removedAt) return null;
  const id = current.id;
  return h("button", {
    type: "button",
    class: "btn btn-link small",
    text: "Remove",
    onclick: async () => {
      const ok = await ask({ title: "Remove this message?", text: "It stays in the history, marked removed.", confirmLabel: "Remove", danger: true });
      if (ok) api.removeMessage(id, message.id).then((m) => chat.markRemoved(m)).catch((e) => toast(e.message, "error"));
    },
  });
}

// --- the socket --------------------------------------------------------------------------

function wireSocket() {
  socket.on("message", (/** @type {Message} */ message) => {
    if (current && message.channelId === current.id) chat.append(message);
    const known = channels.get(message.channelId);
    // A note is no news for the list: neither its preview, order nor unread count.
    if (known && message.kind !== "NOTE") {
      const shown = current && current.id === message.channelId;
      const mine = me && message.sender && message.sender.id === me.user.id;
      patchChannel(message.channelId, {
        lastMessage: message,
        lastActivityAt: message.createdAt,
        unreadCount: shown || mine ? known.unreadCount : (known.unreadCount || 0) + 1,
      });
    }
  });
  socket.on("unread_changed", (data) => {
    const known = channels.get(data.channelId);
    if (known) patchChannel(data.channelId, { unreadCount: data.unreadCount });
    else loadChannelInto(data.channelId);
    if (!current || current.id !== data.channelId) refreshChannelPage();
    refreshUnread();
  });
  socket.on("channel_created", onChannelArrived);
  socket.on("channel_joined", onChannelArrived);
  socket.on("channel_status_changed", (data) => {
    const known = channels.get(data.channelId) || (current && current.id === data.channelId ? current : null);
    if (!known) return;
    const ticket = known.ticket && data.ticketStatus ? { ...known.ticket, status: data.ticketStatus } : known.ticket;
    patchChannel(data.channelId, { status: data.status, ticket });
  });
  socket.on("channel_assigned", (data) => patchChannel(data.channelId, { ...data.channel, unreadCount: channels.get(data.channelId)?.unreadCount }));
  socket.on("ticket_rated", (data) => {
    const known = channels.get(data.channelId) || (current && current.id === data.channelId ? current : null);
    if (!known || !known.ticket) return;
    patchChannel(data.channelId, { ticket: { ...known.ticket, rating: data.rating, ratingComment: data.comment } });
  });
  socket.on("sla_breached", (data) => {
    patchChannel(data.channelId, { ...data.channel, unreadCount: channels.get(data.channelId)?.unreadCount });
    toast(`SLA breached: ${data.channel.subject || "a ticket"}`);
  });
  socket.on("message_removed", (message) => {
    if (current && message.channelId === current.id) chat.markRemoved(message);
  });
  socket.on("message_read", (data) => {
    if (current && data.channelId === current.id) chat.setRead(data.userId, undefined, data.seq);
  });
  socket.on("user_typing", (data) => current && data.channelId === current.id && chat.startTyping(data.userId, data.displayName));
  socket.on("user_stop_typing", (data) => current && data.channelId === current.id && chat.stopTyping(data.userId));
  socket.on("state", (data) => showConnection(data.state));
  socket.on("fatal", (data) => {
    if (data.error && data.error.code === "tenant_suspended") return suspended();
    if (data.error && data.error.code === "tenant_deleted") return sessionEnded("This organisation no longer exists.");
    if (data.code === 4401) return sessionEnded("Your session has expired. Please sign in again.");
    showConnection("closed");
    toast("Live updates stopped: you no longer have access here.", "error");
  });
  socket.on("error", (data) => data.code !== "not_found" && toast(data.message, "error"));
  window.addEventListener("online", () => socket.reconnectNow());
  document.addEventListener("visibilitychange", () => chat.noteSeen());
}

/** @param {Channel} channel */
function onChannelArrived(channel) {
  upsertChannel({ ...channel, unreadCount: channel.unreadCount ?? 0 });
  refreshUnread();
}

/** A channel not on the loaded page got activity: fetch its list entry. @param {string} id */
async function loadChannelInto(id) {
  try {
    const detail = await api.channel(id);
    const { participants, messages, ...channel } = detail;
    const reads = participants.find((p) => me && p.user.id === me.user.id);
    const lastSeq = messages.messages[0] ? messages.messages[0].seq : 0;
    upsertChannel({ ...channel, unreadCount: reads ? Math.max(lastSeq - reads.lastReadSeq, 0) : 0 });
  } catch {
    /* not visible to us after all */
  }
}

/** @param {string} state */
function showConnection(state) {
  const node = byId("connection");
  const text = { open: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", closed: "Offline" };
  node.textContent = text[/** @type {keyof typeof text} */ (state)] || state;
  node.className = `conn conn-${state}`;
}

// --- the ticket dialog -------------------------------------------------------------------

function openTicketDialog() {
  if (!me) return;
  const dialog = /** @type {HTMLDialogElement} */ (byId("ticket-dialog"));
  const form = /** @type {HTMLFormElement} */ (byId("ticket-form"));
  form.reset();
  showError(byId("ticket-error"), null);
  const kinds = [["SUPPORT", "Our organisation's support desk"]];
  if (me.role === "TENANT_ADMIN") kinds.push(["PLATFORM_SUPPORT", "The platform's support team"]);
  fillSelect(/** @type {HTMLSelectElement} */ (byId("ticket-kind")), /** @type {Array<[string, string]>} */ (kinds));
  const picker = byId("ticket-people");
  const render = () => {
    picker.replaceChildren(
      ...[...people.entries()].map(([id, name]) =>
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "people", value: String(id) }), name),
      ),
    );
    if (!people.size) picker.append(h("p", { class: "muted small", text: "No one else to add." }));
  };
  render();
  // The members a person may add (participants see the staff; the staff see everyone).
  api
    .members({ status: "ACTIVE", limit: 100 })
    .then((page) => {
      for (const m of page.members) if (me && m.id !== me.user.id) people.set(m.id, m.displayName);
      render();
    })
    .catch(() => null);
  dialog.showModal();
  /** @type {HTMLInputElement} */ (byId("ticket-subject")).focus();
}

/** @param {SubmitEvent} event */
async function submitTicket(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.target);
  const data = new FormData(form);
  const ids = new Set(data.getAll("people").map(Number));
  const body = {
    type: /** @type {any} */ (String(data.get("type"))),
    subject: String(data.get("subject") || ""),
    category: /** @type {any} */ (String(data.get("category"))),
    priority: /** @type {any} */ (String(data.get("priority"))),
    participantIds: [...ids].filter((n) => Number.isInteger(n) && n > 0),
  };
  try {
    const channel = await api.openChannel(body);
    /** @type {HTMLDialogElement} */ (byId("ticket-dialog")).close();
    upsertChannel({ ...channel, unreadCount: 0 });
    location.hash = `#/c/${channel.id}`;
    toast("Ticket opened.");
  } catch (error) {
    showError(byId("ticket-error"), error);
  }
}

// --- canned responses ------------------------------------------------------------------

/** @type {any} */
let cannedTimer = null;

async function openCanned() {
  const dialog = /** @type {HTMLDialogElement} */ (byId("canned-dialog"));
  const search = /** @type {HTMLInputElement} */ (byId("canned-search"));
  search.value = "";
  byId("canned-new").hidden = !me || me.role !== "TENANT_ADMIN";
  dialog.showModal();
  search.focus();
  await listCanned();
}

async function listCanned() {
  const shortcut = /** @type {HTMLInputElement} */ (byId("canned-search")).value.trim().toLowerCase();
  let found;
  try {
    found = (await api.cannedResponses(shortcut ? { shortcut } : {})).cannedResponses;
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  byId("canned-empty").hidden = found.length > 0;
  byId("canned-list").replaceChildren(
    ...found.map((r) =>
      h(
        "li",
        {},
        h(
          "button",
          { type: "button", class: "btn btn-ghost", title: r.body, onclick: () => insertCanned(r.id) },
          h("span", { class: "shortcut", text: `/${r.shortcut}` }),
          h("span", { text: r.title }),
        ),
      ),
    ),
  );
}

/** Tenant admins save a canned response from the picker. @param {SubmitEvent} event */
async function saveCanned(event) {
  event.preventDefault();
  /** @param {string} id */
  const value = (id) => /** @type {HTMLInputElement} */ (byId(id)).value;
  try {
    await api.createCannedResponse({ shortcut: value("canned-shortcut"), title: value("canned-title-input"), body: value("canned-body") });
    /** @type {HTMLFormElement} */ (byId("canned-new")).reset();
    showError(byId("canned-error"), null);
    await listCanned();
  } catch (error) {
    showError(byId("canned-error"), error);
  }
}

/** Sends the canned response, rendered for this ticket by the server. @param {number} id */
async function insertCanned(id) {
  const c = requireCurrent();
  try {
    const message = await api.sendCanned(c.id, id);
    chat.append(message);
    /** @type {HTMLDialogElement} */ (byId("canned-dialog")).close();
  } catch (error) {
    toast(error.message, "error");
  }
}

// --- reports -----------------------------------------------------------------------------

/** @param {Date} day */
const isoDay = (day) => day.toISOString().slice(0, 10);

function openReports() {
  const today = new Date();
  const from = /** @type {HTMLInputElement} */ (byId("reports-from"));
  const to = /** @type {HTMLInputElement} */ (byId("reports-to"));
  if (!from.value) from.value = isoDay(new Date(today.getTime() - 29 * 86400000));
  if (!to.value) to.value = isoDay(new Date(today.getTime() + 86400000));
  /** @type {HTMLDialogElement} */ (byId("reports-dialog")).showModal();
  showReport();
}

/** @param {number | null} seconds */
function duration(seconds) {
  if (seconds === null) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/** A bar `share` of the chart's width (set through the CSSOM: the page's CSP allows no
 * inline style attribute). @param {string} kind @param {number} share */
function bar(kind, share) {
  const node = h("span", { class: `bar ${kind}` });
  node.style.width = `${(100 * share).toFixed(1)}%`;
  return node;
}

/** @param {SubmitEvent} [event] */
async function showReport(event) {
  if (event) event.preventDefault();
  const area = byId("reports-error");
  const groupBy = /** @type {HTMLSelectElement} */ (byId("reports-group")).value;
  const query = {
    from: /** @type {HTMLInputElement} */ (byId("reports-from")).value,
    to: /** @type {HTMLInputElement} */ (byId("reports-to")).value,
    ...(groupBy ? { groupBy } : {}),
  };
  let report;
  try {
    report = await api.reports(/** @type {any} */ (query));
    area.hidden = true;
  } catch (error) {
    showError(area, error);
    return;
  }
  const t = report.totals;
  /** @param {string} name @param {string} value */
  const figure = (name, value) => h("div", {}, h("dt", { text: name }), h("dd", { text: value }));
  byId("reports-totals").replaceChildren(
    figure("Opened", String(t.opened)),
    figure("Resolved", String(t.resolved)),
    figure("Escalated", String(t.escalated)),
    figure("First response (median / p90)", `${duration(t.firstResponseSeconds.median)} / ${duration(t.firstResponseSeconds.p90)}`),
    figure("Resolution (median / p90)", `${duration(t.resolutionSeconds.median)} / ${duration(t.resolutionSeconds.p90)}`),
    figure("SLA breached", t.slaBreachRate === null ? "–" : `${Math.round(t.slaBreachRate * 100)} %`),
    figure("Satisfaction", t.csat.average === null ? "–" : `${t.csat.average.toFixed(1)} / 5 (${t.csat.count})`),
  );
  const most = Math.max(1, ...report.groups.map((g) => Math.max(g.opened, g.resolved)));
  /** @param {string | null} key */
  const name = (key) => {
    if (key === null) return groupBy === "assignee" ? "Unassigned" : "–";
    if (groupBy === "assignee") return people.get(Number(key)) || (me && Number(key) === me.user.id ? me.user.displayName : `#${key}`);
    return groupBy === "day" ? key : label(key);
  };
  byId("reports-chart").replaceChildren(
    ...report.groups.map((g) =>
      h(
        "div",
        { class: "chart-row", dataset: { key: g.key === null ? "" : g.key } },
        h("span", { class: "chart-key", text: name(g.key) }),
        h(
          "span",
          { class: "chart-bars", title: `${g.opened} opened, ${g.resolved} resolved` },
          bar("bar-opened", g.opened / most),
          bar("bar-resolved", g.resolved / most),
        ),
      ),
    ),
  );
}

// --- wiring ------------------------------------------------------------------------------

function wireStaticControls() {
  byId("login-form").addEventListener("submit", login);
  byId("logout").addEventListener("click", logout);
  byId("forgot").addEventListener("click", () => forgotPassword(api, /** @type {HTMLInputElement} */ (byId("login-email")).value));
  fillSelect(/** @type {HTMLSelectElement} */ (byId("filter-type")), [["", "All types"], ...TYPES.map((t) => /** @type {[string, string]} */ ([t, label(t)]))]);
  fillSelect(/** @type {HTMLSelectElement} */ (byId("filter-status")), [["", "Any status"], ...STATUSES.map((s) => /** @type {[string, string]} */ ([s, label(s)]))]);
  fillSelect(/** @type {HTMLSelectElement} */ (byId("ticket-category")), CATEGORIES.map((c) => [c, label(c)]));
  fillSelect(/** @type {HTMLSelectElement} */ (byId("ticket-priority")), PRIORITIES.map((p) => [p, label(p)]));
  /** @type {HTMLSelectElement} */ (byId("ticket-priority")).value = "MEDIUM";
  /** @type {HTMLSelectElement} */ (byId("ticket-category")).value = "OTHER";
  byId("filter-type").addEventListener("change", () => loadChannels(true));
  byId("filter-status").addEventListener("change", () => loadChannels(true));
  byId("more-channels").addEventListener("click", () => loadChannels(false));
  byId("new-ticket").addEventListener("click", openTicketDialog);
  byId("ticket-form").addEventListener("submit", submitTicket);
  byId("ticket-cancel").addEventListener("click", () => /** @type {HTMLDialogElement} */ (byId("ticket-dialog")).close());
  byId("note-toggle").addEventListener("change", (event) => setNoting(/** @type {HTMLInputElement} */ (event.target).checked));
  byId("canned-open").addEventListener("click", openCanned);
  byId("canned-close").addEventListener("click", () => /** @type {HTMLDialogElement} */ (byId("canned-dialog")).close());
  byId("canned-search").addEventListener("input", () => {
    clearTimeout(cannedTimer);
    cannedTimer = setTimeout(listCanned, 200);
  });
  byId("canned-new").addEventListener("submit", saveCanned);
  byId("rating-form").addEventListener("submit", submitRating);
  fillSelect(/** @type {HTMLSelectElement} */ (byId("reports-group")), REPORT_GROUPS.map((g) => /** @type {[string, string]} */ ([g, g ? label(g.toUpperCase()) : "Nothing (totals)"])));
  byId("reports-open").addEventListener("click", openReports);
  byId("reports-form").addEventListener("submit", showReport);
  byId("reports-close").addEventListener("click", () => /** @type {HTMLDialogElement} */ (byId("reports-dialog")).close());
  byId("back").addEventListener("click", () => {
    location.hash = "";
  });
  window.addEventListener("hashchange", route);
  wireSocket();
}

boot();
