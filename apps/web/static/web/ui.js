// @ts-check
/**
 * Pieces both pages share: building DOM (text is always inserted as text, never as HTML),
 * dialogs, notices, and the chat window (history paging upward, live messages, typing,
 * read receipts).
 * @module ui
 */

/** @typedef {import("./chat-client.js").Message} Message */
/** @typedef {import("./chat-client.js").Participant} Participant */

/**
 * Creates an element. Attributes: `class`, `text` (textContent), `on<event>` handlers,
 * `dataset`, booleans; children: nodes or strings (text nodes).
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/**
 * Replaces a node's children, skipping null and false (which `replaceChildren` would
 * show as the text "null").
 * @param {Element} node @param {...(Node | string | null | undefined | false)} children
 */
export function fill(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false).map((c) => /** @type {Node | string} */ (c)));
}

/** @param {string} id @returns {HTMLElement} */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing`);
  return node;
}

/** "IN_PROGRESS" -> "In progress" @param {string | null | undefined} value */
export function label(value) {
  if (!value) return "";
  const text = value.toLowerCase().replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** @param {string | null | undefined} iso */
export function timeOf(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/**
 * Fills a <select> with options. @param {HTMLSelectElement} select
 * @param {Array<[string, string]>} options [value, label]
 */
export function fillSelect(select, options) {
  select.replaceChildren(...options.map(([value, text]) => h("option", { value, text })));
}

/** Shows a message in a form's error area (role=alert). @param {HTMLElement} area @param {any} error */
export function showError(area, error) {
  area.replaceChildren();
  if (!error) {
    area.hidden = true;
    return;
  }
  area.hidden = false;
  area.append(h("p", { text: error.message || String(error) }));
  for (const [field, messages] of Object.entries(error.fields || {})) {
    const name = label(field.replace(/([a-z])([A-Z])/g, "$1_$2"));
    area.append(h("p", { class: "field-error", text: `${name}: ${messages.join(" ")}` }));
  }
}

/** A short notice at the corner of the screen. @param {string} text @param {"info" | "error"} [kind] */
export function toast(text, kind = "info") {
  const region = byId("toasts");
  const node = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  node.append(h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", text: "×", onclick: () => node.remove() }));
  region.append(node);
  setTimeout(() => node.remove(), 6000);
  return node;
}

/**
 * Asks for one line of text (or a confirmation when `field` is omitted) in a modal
 * dialog; resolves null when cancelled.
 * @param {{ title: string, text?: string, field?: string, initial?: string, confirmLabel?: string, danger?: boolean, required?: boolean, expect?: string }} spec
 * @returns {Promise<string | null>}
 */
export function ask(spec) {
  return new Promise((resolve) => {
    const input = spec.field
      ? h("input", { id: "ask-input", name: "value", required: spec.required !== false, autocomplete: "off", value: spec.initial || undefined })
      : null;
    const confirm = h("button", {
      type: "submit",
      class: spec.danger ? "btn btn-danger" : "btn btn-primary",
      text: spec.confirmLabel || "Confirm",
    });
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": "ask-title" },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id: "ask-title", text: spec.title }),
        spec.text ? h("p", { class: "muted", text: spec.text }) : null,
        input ? h("label", { for: "ask-input", text: spec.field }) : null,
        input,
        h(
          "div",
          { class: "dialog-actions" },
          h("button", { type: "button", class: "btn", text: "Cancel", onclick: () => dialog.close("") }),
          confirm,
        ),
      ),
    );
    const dialogEl = /** @type {HTMLDialogElement} */ (dialog);
    if (input && spec.expect) {
      const check = () => {
        /** @type {HTMLButtonElement} */ (confirm).disabled =
          /** @type {HTMLInputElement} */ (input).value !== spec.expect;
      };
      input.addEventListener("input", check);
      check();
    }
    dialog.querySelector("form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      dialogEl.close(input ? /** @type {HTMLInputElement} */ (input).value : "ok");
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialogEl.returnValue ? dialogEl.returnValue : null);
    });
    document.body.append(dialog);
    dialogEl.showModal();
    (input || confirm).focus();
  });
}

/**
 * One message row. SYSTEM messages are centred notes; removed messages say so.
 * @param {Message} message @param {number | undefined} myId
 */
export function messageRow(message, myId) {
  if (message.kind === "SYSTEM") {
    return h(
      "li",
      { class: "msg msg-system", dataset: { id: String(message.id), seq: String(message.seq) } },
      h("span", { class: "system-text", text: message.content || "" }),
      h("time", { datetime: message.createdAt, text: timeOf(message.createdAt) }),
    );
  }
  const mine = message.sender && message.sender.id === myId;
  const removed = message.removedAt !== null;
  const note = message.kind === "NOTE";
  return h(
    "li",
    {
      class: `msg${mine ? " msg-mine" : ""}${removed ? " msg-removed" : ""}${note ? " msg-note" : ""}`,
      dataset: { id: String(message.id), seq: String(message.seq) },
    },
    h(
      "div",
      { class: "msg-meta" },
      h("span", { class: "msg-author", text: message.sender ? message.sender.displayName : "" }),
      message.senderType === "SUPER_ADMIN" ? h("span", { class: "chip chip-platform", text: "Platform" }) : null,
      note ? h("span", { class: "chip chip-note", text: "Internal note" }) : null,
      h("time", { datetime: message.createdAt, text: timeOf(message.createdAt) }),
    ),
    removed
      ? h("p", { class: "msg-body removed-note", text: "This message was removed by a moderator." })
      : h("p", { class: "msg-body", text: message.content || "" }),
  );
}

/**
 * @typedef {Object} ChatWindowHooks
 * @property {(beforeId: number) => Promise<{ messages: Message[], hasMore: boolean }>} loadOlder
 * @property {(content: string) => Promise<unknown>} send
 * @property {() => void} [typing]
 * @property {(message: Message) => void} [seen]  The newest message is on screen
 * @property {(message: Message) => HTMLElement | null} [extra]  Per-message controls
 */

/** The message list and composer of one channel. */
export class ChatWindow {
  /**
   * @param {HTMLElement} root  holds `.messages`, `.typing`, `.receipts`, `form.composer`
   * @param {number} myId
   * @param {ChatWindowHooks} hooks
   */
  constructor(root, myId, hooks) {
    this.root = root;
    this.myId = myId;
    this.hooks = hooks;
    this.list = /** @type {HTMLElement} */ (root.querySelector(".messages"));
    this.scroller = /** @type {HTMLElement} */ (root.querySelector(".scroller"));
    this.typingLine = /** @type {HTMLElement} */ (root.querySelector(".typing"));
    this.receiptLine = /** @type {HTMLElement} */ (root.querySelector(".receipts"));
    this.form = /** @type {HTMLFormElement} */ (root.querySelector("form.composer"));
    this.input = /** @type {HTMLTextAreaElement} */ (this.form.querySelector("textarea"));
    this.sendError = /** @type {HTMLElement} */ (this.form.querySelector(".form-error"));
    /** @type {Map<number, Message>} */
    this.messages = new Map();
    this.hasMore = false;
    this.loading = false;
    /** @type {Map<number, { name: string, timer: any }>} */
    this.typers = new Map();
    /** @type {Map<number, { name: string, seq: number }>} */
    this.readers = new Map();
    this.lastTyping = 0;
    this.setComposer(true);
    this.scroller.addEventListener("scroll", () => this.onScroll());
    this.form.addEventListener("submit", (event) => this.submit(event));
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => {
      const now = Date.now();
      if (this.hooks.typing && now - this.lastTyping > 2000) {
        this.lastTyping = now;
        this.hooks.typing();
      }
    });
  }

  /** @param {Message[]} newestFirst @param {boolean} hasMore @param {Participant[]} participants */
  reset(newestFirst, hasMore, participants) {
    this.messages.clear();
    this.list.replaceChildren();
    this.typers.clear();
    this.readers.clear();
    this.hasMore = hasMore;
    for (const p of participants) {
      if (p.user.id !== this.myId) this.readers.set(p.user.id, { name: p.user.displayName, seq: p.lastReadSeq });
    }
    this.prepend([...newestFirst].reverse());
    this.renderTyping();
    this.scrollToEnd();
    this.renderReceipts();
    this.noteSeen();
    this.showEmpty();
  }

  showEmpty() {
    const empty = this.root.querySelector(".empty-thread");
    if (empty) /** @type {HTMLElement} */ (empty).hidden = this.messages.size > 0;
  }

  /** @param {Message[]} oldestFirst */
  prepend(oldestFirst) {
    const rows = oldestFirst.filter((m) => !this.messages.has(m.id)).map((m) => this.row(m));
    this.list.prepend(...rows);
  }

  /** @param {Message} message */
  row(message) {
    this.messages.set(message.id, message);
    const row = messageRow(message, this.myId);
    const extra = this.hooks.extra ? this.hooks.extra(message) : null;
    if (extra) row.append(extra);
    return row;
  }

  /** A live message (already deduplicated by the socket; checked again here). @param {Message} message */
  append(message) {
    if (this.messages.has(message.id)) return;
    const atEnd = this.nearEnd();
    this.list.append(this.row(message));
    if (message.sender) this.stopTyping(message.sender.id);
    if (message.sender && message.sender.id !== this.myId) {
      const reader = this.readers.get(message.sender.id);
      if (reader) reader.seq = Math.max(reader.seq, message.seq);
    }
    this.showEmpty();
    this.renderReceipts();
    if (atEnd || (message.sender && message.sender.id === this.myId)) this.scrollToEnd();
    this.noteSeen();
  }

  /** @param {{ messageId?: number, id?: number }} data */
  markRemoved(data) {
    const id = data.messageId ?? data.id;
    const message = id === undefined ? undefined : this.messages.get(id);
    const row = this.list.querySelector(`[data-id="${id}"]`);
    if (!message || !row) return;
    const removed = { ...message, content: null, removedAt: new Date().toISOString() };
    row.replaceWith(this.row(removed));
  }

  /** @param {number} userId @param {string} name */
  startTyping(userId, name) {
    if (userId === this.myId) return;
    const current = this.typers.get(userId);
    if (current) clearTimeout(current.timer);
    // Typing indicators expire by themselves, as the protocol asks of clients.
    const timer = setTimeout(() => this.stopTyping(userId), 6000);
    this.typers.set(userId, { name, timer });
    this.renderTyping();
  }

  /** @param {number} userId */
  stopTyping(userId) {
    const current = this.typers.get(userId);
    if (!current) return;
    clearTimeout(current.timer);
    this.typers.delete(userId);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typers.values()].map((t) => t.name);
    this.typingLine.textContent =
      names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
  }

  /** @param {number} userId @param {string | undefined} name @param {number} seq */
  setRead(userId, name, seq) {
    if (userId === this.myId) return;
    const reader = this.readers.get(userId) || { name: name || "Someone", seq: 0 };
    reader.seq = Math.max(reader.seq, seq);
    this.readers.set(userId, reader);
    this.renderReceipts();
  }

  renderReceipts() {
    const newest = this.newest();
    if (!newest) {
      this.receiptLine.textContent = "";
      return;
    }
    const names = [...this.readers.values()].filter((r) => r.seq >= newest.seq).map((r) => r.name);
    this.receiptLine.textContent = names.length ? `Seen by ${names.join(", ")}` : "";
  }

  /** @returns {Message | undefined} */
  newest() {
    let best;
    for (const message of this.messages.values()) if (!best || message.seq > best.seq) best = message;
    return best;
  }

  /** @returns {Message | undefined} */
  oldest() {
    let best;
    for (const message of this.messages.values()) if (!best || message.seq < best.seq) best = message;
    return best;
  }

  nearEnd() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  noteSeen() {
    const newest = this.newest();
    if (newest && this.hooks.seen && document.visibilityState === "visible") this.hooks.seen(newest);
  }

  async onScroll() {
    if (this.scroller.scrollTop < 60) await this.loadOlder();
    if (this.nearEnd()) this.noteSeen();
  }

  /** The previous page of history, keeping what is on screen in place. */
  async loadOlder() {
    const oldest = this.oldest();
    if (this.loading || !this.hasMore || !oldest) return;
    this.loading = true;
    this.root.classList.add("loading-older");
    try {
      const page = await this.hooks.loadOlder(oldest.id);
      const before = this.scroller.scrollHeight;
      this.prepend([...page.messages].reverse());
      this.hasMore = page.hasMore;
      this.scroller.scrollTop += this.scroller.scrollHeight - before;
    } catch (error) {
      toast(`Could not load older messages: ${error.message}`, "error");
    } finally {
      this.loading = false;
      this.root.classList.remove("loading-older");
    }
  }

  /** @param {SubmitEvent} event */
  async submit(event) {
    event.preventDefault();
    const content = this.input.value;
    if (!content.trim()) return;
    const button = /** @type {HTMLButtonElement} */ (this.form.querySelector("button[type=submit]"));
    button.disabled = true;
    showError(this.sendError, null);
    try {
      await this.hooks.send(content);
      this.input.value = "";
    } catch (error) {
      showError(this.sendError, error);
    } finally {
      button.disabled = false;
      this.input.focus();
    }
  }

  /** @param {boolean} enabled @param {string} [why] */
  setComposer(enabled, why = "") {
    this.input.disabled = !enabled;
    /** @type {HTMLButtonElement} */ (this.form.querySelector("button[type=submit]")).disabled = !enabled;
    this.input.placeholder = enabled ? "Write a message…" : why;
    this.input.title = enabled ? "Enter sends, Shift+Enter starts a new line" : why;
  }
}
