// @ts-check
/**
 * The client of the chat and support API: `chatApi` for REST, `chatSocket` for the
 * WebSocket. Plain ES module, no dependencies; typed with JSDoc (chat-client.d.ts holds
 * the same declarations for TypeScript projects).
 *
 *   import { chatApi, chatSocket } from "/static/web/chat-client.js";
 *   const api = chatApi({ token: () => localStorage.getItem("token") });
 *   const socket = chatSocket({ token: () => localStorage.getItem("token") });
 *   socket.on("message", (m) => show(m));            // joined rooms, in order, each once
 *   await socket.join(channelId, { afterId, afterSeq }); // catches up after those
 *
 * @module chat-client
 */

/**
 * @typedef {{ id: number, displayName: string }} UserBrief
 * @typedef {{ id: number, email: string, displayName: string, isSuperAdmin: boolean }} User
 * @typedef {"TENANT_ADMIN" | "MANAGEMENT_TEAM" | "PARTICIPANT"} MembershipRole
 * @typedef {"SUPPORT" | "TEAM" | "TOURNAMENT" | "PLATFORM_SUPPORT"} ChannelType
 * @typedef {"ACTIVE" | "RESOLVED" | "ESCALATED" | "ARCHIVED"} ChannelStatus
 * @typedef {"OPEN" | "IN_PROGRESS" | "WAITING_ON_USER" | "RESOLVED" | "CLOSED"} TicketStatus
 * @typedef {"LOW" | "MEDIUM" | "HIGH" | "URGENT"} TicketPriority
 * @typedef {"TECHNICAL" | "BILLING" | "FEATURE_REQUEST" | "TOURNAMENT_ISSUE" | "ACCOUNT" | "OTHER"} TicketCategory
 *
 * @typedef {Object} Message
 * @property {number} id
 * @property {string} channelId
 * @property {number} seq            Position in the channel: 1, 2, 3, ...
 * @property {number} publicSeq      The same, not counting internal notes
 * @property {UserBrief | null} sender  Null for SYSTEM messages.
 * @property {string} senderType
 * @property {"USER" | "SYSTEM" | "NOTE"} kind  NOTE: an internal note (ticket staff only)
 * @property {string | null} content  Null once a moderator removed it.
 * @property {string} createdAt
 * @property {string | null} removedAt
 * @property {number | null} removedBy
 *
 * @typedef {Object} Ticket
 * @property {number} requesterId
 * @property {TicketCategory} category
 * @property {TicketPriority} priority
 * @property {TicketStatus} status
 * @property {string | null} firstResponseAt
 * @property {string | null} resolvedAt
 * @property {string | null} closedAt
 * @property {number | null} rating  The requester's 1-5, once resolved
 * @property {string} ratingComment
 * @property {string | null} ratedAt
 * @property {string} createdAt
 * @property {Sla | null} sla
 *
 * @typedef {Object} Sla  The ticket's SLA targets (null on the ticket when none applies)
 * @property {string | null} firstResponseDueAt
 * @property {string | null} resolutionDueAt
 * @property {string | null} dueAt  the earliest due time of a target not met, while it runs
 * @property {string | null} firstResponseBreachedAt
 * @property {string | null} resolutionBreachedAt
 * @property {boolean} breached
 * @property {boolean} paused
 *
 * @typedef {Object} Channel
 * @property {string} id
 * @property {ChannelType} type
 * @property {ChannelStatus} status
 * @property {string} subject
 * @property {string | null} contextId
 * @property {string | null} tenant
 * @property {number} createdBy
 * @property {UserBrief | null} assignedTo
 * @property {string} escalationReason
 * @property {string | null} escalatedAt
 * @property {string | null} resolvedAt
 * @property {string | null} archivedAt
 * @property {string} createdAt
 * @property {string} lastActivityAt
 * @property {Ticket | null} ticket
 * @property {Message | null} lastMessage
 * @property {number | null} unreadCount
 * @property {"ADMIN" | "MEMBER" | "OBSERVER" | null} myRole
 *
 * @typedef {{ user: UserBrief, role: "ADMIN" | "MEMBER" | "OBSERVER", lastReadSeq: number, joinedAt: string }} Participant
 * @typedef {{ messages: Message[], hasMore: boolean, direction: "older" | "newer" }} MessagePage
 * @typedef {Channel & { participants: Participant[], messages: MessagePage }} ChannelDetail
 * @typedef {{ token: string, expiresAt: string, user: User, role: MembershipRole | null }} Session
 * @typedef {{ id: number, displayName: string, email: string | null, role: MembershipRole, status: "ACTIVE" | "SUSPENDED", joinedAt: string }} Member
 * @typedef {{ user: User, tenant: { slug: string, name: string, isPublic: boolean }, role: MembershipRole | null }} Me
 * @typedef {{ id: number, email: string, role: MembershipRole, displayName: string, invitedBy: UserBrief | null, createdAt: string, expiresAt: string }} Invitation
 * @typedef {{ email: string, role: MembershipRole, displayName: string, tenant: { slug: string, name: string, isPublic: boolean }, expiresAt: string, existingAccount: boolean }} InvitationPreview
 * @typedef {{ id: number, createdAt: string, lastUsedAt: string | null, expiresAt: string, userAgent: string, current: boolean }} SessionInfo
 */

/** An error answered by the API (`{"error": {code, message, fields?}}`) or a socket `error` frame. */
export class ApiError extends Error {
  /**
   * @param {number} status  HTTP status; 0 for a socket frame or a network failure
   * @param {string} code    e.g. "validation_error", "not_found", "rate_limited"
   * @param {string} message A sentence meant for people
   * @param {Record<string, string[]>} [fields] Per-field messages of a validation error
   * @param {number | null} [retryAfter] Seconds to wait, on `rate_limited` and `server_busy`
   */
  constructor(status, code, message, fields = {}, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

/**
 * @typedef {Object} ApiOptions
 * @property {string} [baseUrl]  Origin of the host to talk to; "" for the page's own host.
 * @property {() => (string | null)} [token]  The bearer token to send, if any.
 * @property {(error: ApiError) => void} [onUnauthorized]  Called on every 401 (expired session).
 */

/** @param {Record<string, unknown> | undefined} query */
function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** @param {Response} response */
async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  const retry = response.headers.get("Retry-After");
  return new ApiError(
    response.status,
    error.code || `http_${response.status}`,
    error.message || response.statusText || "Request failed.",
    error.fields || {},
    retry ? Number(retry) : null,
  );
}

/**
 * The REST client. Every method returns the response's JSON, or throws an `ApiError`.
 * @param {ApiOptions} [options]
 */
export function chatApi(options = {}) {
  const baseUrl = options.baseUrl || "";
  const token = options.token || (() => null);

  /**
   * @param {string} method
   * @param {string} path
   * @param {{ query?: Record<string, unknown>, body?: unknown, raw?: boolean }} [request]
   * @returns {Promise<any>}
   */
  async function request(method, path, request = {}) {
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    const bearer = token();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (request.body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`${baseUrl}${path}${queryString(request.query)}`, {
        method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
      });
    } catch {
      throw new ApiError(0, "network_error", "The server cannot be reached. Check your connection.");
    }
    if (!response.ok) {
      const error = await errorOf(response);
      if (response.status === 401 && options.onUnauthorized) options.onUnauthorized(error);
      throw error;
    }
    if (request.raw) return response;
    return response.status === 204 ? null : response.json();
  }

  /** @param {string} id */
  const ch = (id) => `/api/chat/channels/${encodeURIComponent(id)}`;
  /** @param {string} slug */
  const tenant = (slug) => `/api/console/tenants/${encodeURIComponent(slug)}`;
  /** @param {number} id */
  const esc = (id) => `/api/console/escalations/${id}`;

  return {
    request,
    // --- session ---
    /** @returns {Promise<Session>} */
    login: (/** @type {string} */ email, /** @type {string} */ password) =>
      request("POST", "/api/auth/login", { body: { email, password } }),
    /** @returns {Promise<Me>} */
    me: () => request("GET", "/api/auth/me"),
    /** A single-use socket ticket for this host (30 s). @returns {Promise<{ ticket: string, expiresAt: string }>} */
    wsTicket: () => request("POST", "/api/auth/ws-ticket"),
    logout: () => request("POST", "/api/auth/logout"),
    // --- chat ---
    /**
     * @param {{ type?: ChannelType, status?: ChannelStatus, contextId?: string, limit?: number, cursor?: string | null }} [query]
     * @returns {Promise<{ channels: Channel[], next: string | null }>}
     */
    channels: (query = {}) => request("GET", "/api/chat/channels", { query }),
    /**
     * @param {{ type: ChannelType, participantIds?: number[], subject?: string, category?: TicketCategory, priority?: TicketPriority, contextId?: string }} body
     * @returns {Promise<Channel>}
     */
    openChannel: (body) => request("POST", "/api/chat/channels", { body }),
    /** @returns {Promise<ChannelDetail>} */
    channel: (/** @type {string} */ id) => request("GET", ch(id)),
    archive: (/** @type {string} */ id) => request("DELETE", ch(id)),
    /**
     * History: no cursor or `before` pages back (newest first); `after` pages forward.
     * @param {string} id
     * @param {{ before?: number, after?: number, limit?: number }} [query]
     * @returns {Promise<MessagePage>}
     */
    messages: (id, query = {}) => request("GET", `${ch(id)}/messages`, { query }),
    /** @returns {Promise<Message>} */
    send: (/** @type {string} */ id, /** @type {string} */ content, kind = "USER") =>
      request("POST", `${ch(id)}/messages`, { body: { content, kind } }),
    /** A canned response, rendered for the ticket by the server. */
    sendCanned: (/** @type {string} */ id, /** @type {number} */ cannedResponseId) =>
      request("POST", `${ch(id)}/messages`, { body: { cannedResponseId } }),
    rate: (/** @type {string} */ id, /** @type {number} */ rating, comment = "") =>
      request("POST", `${ch(id)}/rating`, { body: { rating, comment } }),
    /** @param {{ shortcut?: string }} [query] */
    cannedResponses: (query = {}) => request("GET", "/api/canned-responses", { query }),
    /** @param {{ shortcut: string, title: string, body: string }} body */
    createCannedResponse: (body) => request("POST", "/api/canned-responses", { body }),
    /** @param {{ from: string, to: string, groupBy?: string }} query */
    reports: (query) => request("GET", "/api/reports", { query }),
    /** @returns {Promise<Message>} */
    removeMessage: (/** @type {string} */ id, /** @type {number} */ messageId) =>
      request("DELETE", `${ch(id)}/messages/${messageId}`),
    /** @returns {Promise<Channel>} */
    escalate: (/** @type {string} */ id, /** @type {string} */ reason) =>
      request("PUT", `${ch(id)}/escalate`, { body: { reason } }),
    /** @returns {Promise<Channel>} */
    assign: (/** @type {string} */ id, /** @type {number} */ assigneeId) =>
      request("PUT", `${ch(id)}/assign`, { body: { assigneeId } }),
    /** @returns {Promise<Channel>} */
    resolve: (/** @type {string} */ id) => request("PUT", `${ch(id)}/resolve`),
    /**
     * @param {string} id
     * @param {{ status?: TicketStatus, priority?: TicketPriority, category?: TicketCategory }} fields
     * @returns {Promise<Channel>}
     */
    updateTicket: (id, fields) => request("PATCH", `${ch(id)}/ticket`, { body: fields }),
    /** @returns {Promise<{ channelId: string, lastReadSeq: number, unreadCount: number }>} */
    markRead: (/** @type {string} */ id, /** @type {number} */ messageId) =>
      request("POST", `${ch(id)}/read`, { body: { messageId } }),
    /** @returns {Promise<Participant[]>} */
    addParticipants: (
      /** @type {string} */ id,
      /** @type {number[]} */ userIds,
      /** @type {string | undefined} */ role,
    ) => request("POST", `${ch(id)}/participants`, { body: role ? { userIds, role } : { userIds } }),
    /** @returns {Promise<{ total: number, channels: number }>} */
    unread: () => request("GET", "/api/chat/unread"),
    // --- members (tenant host): everyone sees the staff, the staff see everyone ---
    /**
     * @param {{ search?: string, role?: MembershipRole, status?: string, after?: string, limit?: number }} [query]
     * @returns {Promise<{ members: Member[], next: string | null }>}
     */
    members: (query = {}) => request("GET", "/api/members", { query }),
    /** Tenant admins. @returns {Promise<Member>} */
    changeRole: (/** @type {number} */ userId, /** @type {MembershipRole} */ role) =>
      request("PATCH", `/api/members/${userId}`, { body: { role } }),
    suspendMember: (/** @type {number} */ userId) => request("PUT", `/api/members/${userId}/suspend`),
    reactivateMember: (/** @type {number} */ userId) =>
      request("PUT", `/api/members/${userId}/reactivate`),
    removeMember: (/** @type {number} */ userId) => request("DELETE", `/api/members/${userId}`),
    // --- invitations (tenant host): tenant admins any role, the management team participants ---
    /** @returns {Promise<{ invitations: Invitation[] }>} */
    invitations: () => request("GET", "/api/invitations"),
    /**
     * Mails a link; the same address in the same role again mails a fresh link (resend).
     * @param {{ email: string, role: MembershipRole, displayName?: string }} body
     * @returns {Promise<Invitation>}
     */
    invite: (body) => request("POST", "/api/invitations", { body }),
    revokeInvitation: (/** @type {number} */ id) => request("DELETE", `/api/invitations/${id}`),
    /** What a mailed invitation link names. @returns {Promise<InvitationPreview>} */
    invitation: (/** @type {string} */ token) => request("GET", "/api/invitations/accept", { query: { token } }),
    /**
     * Accepts on the invitation's host: a new account's password and name, or an existing
     * account's own password. Answers as `login`.
     * @param {{ token: string, password?: string, displayName?: string }} body
     * @returns {Promise<Session>}
     */
    acceptInvitation: (body) => request("POST", "/api/invitations/accept", { body }),
    // --- your own account (any host) ---
    changePassword: (/** @type {string} */ currentPassword, /** @type {string} */ newPassword) =>
      request("POST", "/api/auth/password", { body: { currentPassword, newPassword } }),
    /** Always 202: a link is mailed when the address may sign in on this host. */
    requestPasswordReset: (/** @type {string} */ email) =>
      request("POST", "/api/auth/password-reset", { body: { email } }),
    /** @returns {Promise<{ email: string, expiresAt: string }>} */
    passwordReset: (/** @type {string} */ token) =>
      request("GET", "/api/auth/password-reset/confirm", { query: { token } }),
    confirmPasswordReset: (/** @type {string} */ token, /** @type {string} */ newPassword) =>
      request("POST", "/api/auth/password-reset/confirm", { body: { token, newPassword } }),
    /** @returns {Promise<{ sessions: SessionInfo[] }>} */
    sessions: () => request("GET", "/api/auth/sessions"),
    revokeSession: (/** @type {number} */ id) => request("DELETE", `/api/auth/sessions/${id}`),
    // --- console (super admins, public host) ---
    console: {
      /** @param {{ status?: string, search?: string, after?: string, limit?: number }} [query] */
      tenants: (query = {}) => request("GET", "/api/console/tenants", { query }),
      /** @param {{ slug: string, name: string, adminEmail: string, adminName?: string }} body */
      provision: (body) => request("POST", "/api/console/tenants", { body }),
      tenant: (/** @type {string} */ slug) => request("GET", tenant(slug)),
      suspend: (/** @type {string} */ slug, /** @type {string} */ reason) =>
        request("PUT", `${tenant(slug)}/suspend`, { body: { reason } }),
      reactivate: (/** @type {string} */ slug) => request("PUT", `${tenant(slug)}/reactivate`),
      /** The export as a Blob (one JSON document). @returns {Promise<Blob>} */
      exportTenant: async (/** @type {string} */ slug) =>
        (await request("GET", `${tenant(slug)}/export`, { raw: true })).blob(),
      /** `confirm` must repeat the slug. */
      remove: (/** @type {string} */ slug, /** @type {string} */ confirm) =>
        request("DELETE", tenant(slug), { body: { confirm } }),
      figures: () => request("GET", "/api/console/figures"),
      /** Every tenant (rollups) and the platform's tickets. @param {{ from: string, to: string, groupBy?: string }} query */
      reports: (query) => request("GET", "/api/console/reports", { query }),
      /** One tenant's desk and platform tickets. @param {string} slug @param {{ from: string, to: string, groupBy?: string }} query */
      tenantReports: (slug, query) => request("GET", `${tenant(slug)}/reports`, { query }),
      /** @param {Record<string, unknown>} [query] */
      tickets: (query = {}) => request("GET", "/api/console/tickets", { query }),
      /** @param {Record<string, unknown>} [query] */
      escalations: (query = {}) => request("GET", "/api/console/escalations", { query }),
      escalation: (/** @type {number} */ id) => request("GET", esc(id)),
      /** @param {number} id @param {{ before?: number, after?: number, limit?: number }} [query] */
      escalationMessages: (id, query = {}) => request("GET", `${esc(id)}/messages`, { query }),
      /** @returns {Promise<Message>} */
      reply: (/** @type {number} */ id, /** @type {string} */ content, kind = "USER") =>
        request("POST", `${esc(id)}/messages`, { body: { content, kind } }),
      resolveEscalation: (/** @type {number} */ id) => request("PUT", `${esc(id)}/resolve`),
      returnEscalation: (/** @type {number} */ id, /** @type {string} */ note) =>
        request("PUT", `${esc(id)}/return`, { body: { note } }),
      /** @param {{ tenant?: string, action?: string, actorId?: number, before?: number, limit?: number }} [query] */
      audit: (query = {}) => request("GET", "/api/console/audit", { query }),
    },
  };
}

/** @typedef {ReturnType<typeof chatApi>} ChatApi */

// Closing codes after which reconnecting cannot help (see README: WebSocket protocol).
const FATAL_CLOSES = new Set([4401, 4403, 4404]);
// A server process stopping (1001 going away, 1012 restart): another one takes the
// connection at once, so the first reconnect does not wait.
const GOING_AWAY_CLOSES = new Set([1001, 1012]);
// Frames that are replies to a client frame (matched by `ref`).
const REPLIES = new Set(["joined", "left", "message_sent", "read", "sync"]);

/**
 * @typedef {Object} SocketOptions
 * @property {string} [url]  Default: ws(s)://<this host>/ws/chat/
 * @property {() => (string | null)} token  The bearer token
 * @property {() => Promise<string>} [ticket]  A single-use socket ticket for this host
 *   (`api.wsTicket`); the socket then connects with `?ticket=` and keeps the token out of
 *   URLs. Without it, or when getting one fails, it connects with `?token=`.
 * @property {number} [initialDelay]  First reconnect delay in ms (500), doubled per failure;
 *   none after a server going away (1001, 1012)
 * @property {number} [maxDelay]  Longest reconnect delay in ms (15000)
 * @property {number} [requestTimeout]  ms before a frame's reply is given up (15000)
 *
 * @typedef {"connecting" | "open" | "reconnecting" | "closed"} SocketState
 *
 * Events given to `on(name, handler)`:
 * - every server event by its name (`new_message`, `unread_changed`, `user_typing`, ...) with its data;
 * - `message` (Message): new messages of joined rooms, your own included, in `seq` order and
 *   each once, across reconnects (live ones and those `sync` caught up);
 * - `state` ({state, attempt?, delay?, code?}): the connection's state;
 * - `fatal` ({code, error?}): closed for good (4401 expired session, 4403 no access or
 *   suspended tenant, 4404 unknown host or deleted tenant); `error` is the frame before it.
 */

/**
 * The socket client: authenticates, reconnects with backoff, re-joins rooms and catches up
 * with `sync`, so a dropped connection loses and duplicates no message.
 * @param {SocketOptions} options
 */
export function chatSocket(options) {
  const initialDelay = options.initialDelay ?? 500;
  const maxDelay = options.maxDelay ?? 15000;
  const requestTimeout = options.requestTimeout ?? 15000;
  const url =
    options.url ||
    `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/chat/`;

  /** @type {Map<string, Set<(data: any) => void>>} */
  const handlers = new Map();
  /** @type {Map<number, { resolve: (d: any) => void, reject: (e: ApiError) => void, timer: any }>} */
  const pending = new Map();
  /**
   * Joined rooms: the last message delivered (by seq), and live messages held while a
   * catch-up runs. Those who do not get a ticket's internal notes (`notes` false in the
   * join's reply) see gaps in `seq` where notes sit, so they look for lost events by
   * `publicSeq`, which counts the other messages.
   * @typedef {{ lastSeq: number, lastPublicSeq: number, notes: boolean, lastId: number, tracked: boolean, syncing: boolean, held: Message[] }} Room
   * @type {Map<string, Room>}
   */
  const rooms = new Map();
  /** @type {WebSocket | null} */
  let ws = null;
  let nextRef = 1;
  let attempt = 0;
  /** @type {any} */
  let retryTimer = null;
  let stopped = false;
  let connecting = false;
  /** @type {SocketState} */
  let state = "closed";
  /** @type {{ code: string, message: string } | null} */
  let lastError = null;

  /** @param {string} name @param {any} data */
  function emit(name, data) {
    for (const handler of handlers.get(name) || []) {
      try {
        handler(data);
      } catch (error) {
        console.error(error);
      }
    }
  }

  /** @param {SocketState} next @param {Record<string, unknown>} [extra] */
  function setState(next, extra = {}) {
    state = next;
    emit("state", { state: next, ...extra });
  }

  /** The query that authenticates the connection: a ticket when possible, else the token. */
  async function credential() {
    const token = options.token();
    if (!token) return null;
    if (options.ticket) {
      try {
        return `ticket=${encodeURIComponent(await options.ticket())}`;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
      }
    }
    return `token=${encodeURIComponent(token)}`;
  }

  async function connect() {
    clearTimeout(retryTimer);
    setState(attempt ? "reconnecting" : "connecting", { attempt });
    connecting = true;
    const query = await credential();
    connecting = false;
    if (stopped || ws) return;
    if (!query) {
      setState("closed");
      emit("fatal", { code: 4401, error: null });
      return;
    }
    lastError = null;
    const socket = new WebSocket(`${url}?${query}`);
    ws = socket;
    socket.onopen = () => {
      attempt = 0;
      setState("open");
      for (const channelId of rooms.keys()) rejoin(channelId);
    };
    socket.onmessage = (event) => receive(event.data);
    socket.onclose = (event) => closed(socket, event.code);
  }

  /** @param {WebSocket} socket @param {number} code */
  function closed(socket, code) {
    if (ws !== socket) return;
    ws = null;
    for (const [ref, request] of pending) {
      clearTimeout(request.timer);
      // A server going away (1001) answers every frame it handled before closing: one
      // without an answer was not handled, and `request` sends it again once reconnected.
      request.reject(
        code === 1001
          ? new ApiError(0, "going_away", "The server restarted; sending again.")
          : new ApiError(0, "disconnected", "The connection was lost."),
      );
      pending.delete(ref);
    }
    if (stopped) {
      setState("closed", { code });
      return;
    }
    if (FATAL_CLOSES.has(code)) {
      setState("closed", { code });
      emit("fatal", { code, error: lastError });
      return;
    }
    const delay =
      GOING_AWAY_CLOSES.has(code) && attempt === 0
        ? 0
        : Math.min(maxDelay, initialDelay * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    setState("reconnecting", { attempt, delay, code });
    retryTimer = setTimeout(connect, delay);
  }

  /** @param {string} text */
  function receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const { event, data } = frame;
    const ref = data && data.ref;
    if (event === "error") {
      lastError = data;
      if (ref !== undefined && pending.has(ref)) return settle(ref, null, data);
      emit("error", data);
      return;
    }
    if (REPLIES.has(event) && ref !== undefined && pending.has(ref)) settle(ref, data, null);
    if (event === "message_sent" || event === "new_message") deliver(data);
    if (!REPLIES.has(event)) emit(event, data);
  }

  /** @param {number} ref @param {any} data @param {any} error */
  function settle(ref, data, error) {
    const request = pending.get(ref);
    if (!request) return;
    pending.delete(ref);
    clearTimeout(request.timer);
    if (error) {
      request.reject(
        new ApiError(0, error.code, error.message, error.fields || {}, error.retryAfter ?? null),
      );
    } else {
      request.resolve(data);
    }
  }

  /** A room's message, live or caught up: given once, in order. @param {Message} message */
  function deliver(message) {
    const room = rooms.get(message.channelId);
    if (!room) return;
    if (room.syncing) {
      room.held.push(message);
      return;
    }
    if (message.seq <= room.lastSeq) return;
    const gap =
      room.notes || message.publicSeq === undefined
        ? message.seq > room.lastSeq + 1
        : message.publicSeq > room.lastPublicSeq + 1;
    if (room.tracked && gap) {
      // A gap (an event the layer lost): fetch what is missing first.
      room.held.push(message);
      catchUp(message.channelId).catch(() => null);
      return;
    }
    advance(room, message);
  }

  /**
   * Sends a frame and waits for its reply. `rate_limited` and `server_busy` are retried
   * once after the server's `retryAfter`; a frame the server did not handle because it was
   * going away (an `error` `going_away`, or no answer before a 1001 close) once the socket
   * has reconnected; other errors reject with an ApiError.
   * @param {string} event
   * @param {Record<string, unknown>} data
   * @param {number} [retries]
   * @returns {Promise<any>}
   */
  async function request(event, data, retries = 1) {
    try {
      return await sendFrame(event, data);
    } catch (error) {
      if (retries > 0 && error instanceof ApiError && error.code === "going_away") {
        await reopened();
        return request(event, data, retries - 1);
      }
      const wait = error instanceof ApiError ? error.retryAfter : null;
      if (retries > 0 && wait !== null) {
        await new Promise((resolve) => setTimeout(resolve, wait * 1000));
        return request(event, data, retries - 1);
      }
      throw error;
    }
  }

  /** Resolves once the socket is open again; rejects after `requestTimeout`. */
  function reopened() {
    return new Promise((resolve, reject) => {
      if (!handlers.has("state")) handlers.set("state", new Set());
      const listeners = /** @type {Set<(data: any) => void>} */ (handlers.get("state"));
      /** @param {{ state: SocketState }} change */
      const opened = ({ state: next }) => {
        if (next !== "open") return;
        clearTimeout(timer);
        listeners.delete(opened);
        resolve(undefined);
      };
      const timer = setTimeout(() => {
        listeners.delete(opened);
        reject(new ApiError(0, "disconnected", "Not connected; reconnecting."));
      }, requestTimeout);
      listeners.add(opened);
    });
  }

  /** @param {string} event @param {Record<string, unknown>} data */
  function sendFrame(event, data) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new ApiError(0, "disconnected", "Not connected; reconnecting."));
        return;
      }
      const ref = nextRef++;
      const timer = setTimeout(() => {
        pending.delete(ref);
        reject(new ApiError(0, "timeout", "The server did not answer in time."));
      }, requestTimeout);
      pending.set(ref, { resolve, reject, timer });
      ws.send(JSON.stringify({ event, data, ref }));
    });
  }

  /** Sends a frame that has no reply (typing). @param {string} event @param {Record<string, unknown>} data */
  function notify(event, data) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ event, data }));
  }

  /** @param {string} channelId */
  async function rejoin(channelId) {
    try {
      const reply = await request("join_channel", { channelId });
      const room = rooms.get(channelId);
      if (room) room.notes = !!reply.notes; // the role may have changed meanwhile
      if (room?.tracked) await catchUp(channelId);
    } catch (error) {
      emit("error", { code: error.code, message: error.message, channelId });
    }
  }

  /**
   * Fetches every message after the last one delivered, then gives what arrived live
   * meanwhile. If it fails (the connection dropped), the held messages are dropped too:
   * the next catch-up fetches them from the last one delivered.
   * @param {string} channelId
   */
  async function catchUp(channelId) {
    const room = rooms.get(channelId);
    if (!room || room.syncing) return;
    room.syncing = true;
    try {
      let hasMore = true;
      while (hasMore && rooms.get(channelId) === room) {
        const page = await request("sync", { channelId, afterId: room.lastId });
        for (const message of page.messages) advance(room, message);
        hasMore = page.hasMore && page.messages.length > 0;
      }
      const held = room.held.sort((a, b) => a.seq - b.seq);
      room.held = [];
      for (const message of held) advance(room, message);
    } catch (error) {
      room.held = [];
      throw error;
    } finally {
      room.syncing = false;
    }
  }

  /** @param {Room} room @param {Message} message */
  function advance(room, message) {
    if (message.seq <= room.lastSeq) return;
    room.tracked = true;
    room.lastSeq = message.seq;
    room.lastPublicSeq = message.publicSeq ?? room.lastPublicSeq;
    room.lastId = message.id;
    emit("message", message);
  }

  return {
    /** Opens the connection (again, after `close`). */
    open() {
      stopped = false;
      if (!ws && !connecting) connect();
    },
    /** Closes for good: no reconnect. */
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      if (ws) ws.close(1000);
    },
    /** Reconnects now (e.g. when the browser comes back online). */
    reconnectNow() {
      if (!ws && !stopped && !connecting) {
        attempt = Math.max(attempt, 1);
        connect();
      }
    },
    /** @returns {SocketState} */
    get state() {
      return state;
    },
    /**
     * Subscribes to an event; returns the function that unsubscribes.
     * @param {string} name
     * @param {(data: any) => void} handler
     * @returns {() => void}
     */
    on(name, handler) {
      if (!handlers.has(name)) handlers.set(name, new Set());
      handlers.get(name)?.add(handler);
      return () => handlers.get(name)?.delete(handler);
    },
    /**
     * Joins a room and keeps it joined across reconnects. With `afterId`/`afterSeq` (the
     * newest message the page already shows) it first delivers, through `message`, every
     * message after it: nothing sent between loading the history and joining is missed.
     * @param {string} channelId
     * @param {{ afterId?: number, afterSeq?: number, afterPublicSeq?: number }} [from]
     */
    async join(channelId, from = {}) {
      /** @type {Room} */
      const room = {
        lastSeq: from.afterSeq || 0,
        lastPublicSeq: from.afterPublicSeq || 0,
        notes: false,
        lastId: from.afterId || 0,
        tracked: from.afterId !== undefined,
        syncing: false,
        held: [],
      };
      rooms.set(channelId, room);
      if (state !== "open") return; // joined (and caught up) once connected
      room.notes = !!(await request("join_channel", { channelId })).notes;
      if (room.tracked) await catchUp(channelId);
    },
    /** @param {string} channelId */
    async leave(channelId) {
      if (!rooms.delete(channelId)) return;
      if (state === "open") await request("leave_channel", { channelId }).catch(() => null);
    },
    /** @param {string} channelId @param {string} content @param {"USER" | "NOTE"} [kind] @returns {Promise<Message>} */
    send: (channelId, content, kind = "USER") => request("send_message", { channelId, content, kind }),
    /** @param {string} channelId @param {number} messageId */
    markRead: (channelId, messageId) => request("mark_read", { channelId, messageId }),
    /** @param {string} channelId */
    typing: (channelId) => notify("typing", { channelId }),
    /** @param {string} channelId */
    stopTyping: (channelId) => notify("stop_typing", { channelId }),
    /** Any frame of the protocol, waiting for its reply. */
    request,
  };
}

/** @typedef {ReturnType<typeof chatSocket>} ChatSocket */
