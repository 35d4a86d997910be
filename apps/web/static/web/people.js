// @ts-check
/**
 * The people screens of the tenant app, over `chat-client.js`: members (tenant admins
 * change roles, suspend, reactivate and remove), invitations (the staff invite, resend
 * and revoke), your own account (password and sessions, also on the console), and the
 * assignee picker of ticket assignment. Each control is shown only to those the API
 * allows; a refusal is shown as the API words it.
 * @module people
 */
import { ApiError } from "./chat-client.js";
import { ask, h, label, showError, timeOf, toast } from "./ui.js";

/** @typedef {import("./chat-client.js").ChatApi} ChatApi */
/** @typedef {import("./chat-client.js").Me} Me */
/** @typedef {import("./chat-client.js").Member} Member */
/** @typedef {import("./chat-client.js").Channel} Channel */
/** @typedef {import("./chat-client.js").MembershipRole} MembershipRole */

const ROLES = /** @type {MembershipRole[]} */ (["TENANT_ADMIN", "MANAGEMENT_TEAM", "PARTICIPANT"]);

/** What a refusal means for the person, beyond the API's message. */
const HINTS = {
  last_admin: "Make someone else a tenant admin first: an organisation always keeps one.",
  already_member: "This address already belongs to a member.",
  invitation_pending: "Revoke the pending invitation first to invite this address in another role.",
  rate_limited: "Too many at once: wait a moment and try again.",
};

/** @param {string} title @param {...(Node | null)} children */
function panel(title, ...children) {
  return h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", { text: title })), ...children);
}

/** @param {string[]} heads @param {Node[]} rows */
function table(heads, rows) {
  const node = h("table", { class: "stack" }, h("thead", {}, h("tr", {}, ...heads.map((t) => h("th", { scope: "col", text: t })))), h("tbody", {}, ...rows));
  labelCells(node);
  return h("div", { class: "table-wrap" }, node);
}

/** Names each cell by its column, for the stacked rows of a phone-width screen. @param {Element} node */
function labelCells(node) {
  const heads = [...node.querySelectorAll("thead th")].map((th) => th.textContent || "");
  for (const tr of node.querySelectorAll("tbody tr")) {
    [...tr.children].forEach((td, i) => td.setAttribute("data-label", heads[i] || ""));
  }
}

/** Shows an API refusal in an alert area, with what to do about it. @param {HTMLElement} area @param {unknown} error */
export function showRefusal(area, error) {
  if (!error) return showError(area, null);
  const e = /** @type {ApiError} */ (error);
  showError(area, e);
  const hint = HINTS[/** @type {keyof typeof HINTS} */ (e.code)];
  if (hint) area.append(h("p", { class: "hint", text: hint }));
  if (e.code) area.append(h("p", { class: "small error-code", text: `${e.status ? `${e.status} ` : ""}${e.code}` }));
  area.scrollIntoView({ block: "nearest" });
}

/** @param {number} ms */
const debounce = (ms) => {
  /** @type {any} */
  let timer = null;
  return (/** @type {() => void} */ fn) => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
};

// --- members -----------------------------------------------------------------------------

/**
 * The members screen: search by name (or email, for admins), filter by role and status,
 * keyset pages ("Show more"). Tenant admins change roles, suspend, reactivate, remove.
 * @param {HTMLElement} root @param {{ api: ChatApi, me: Me, selfChanged: () => void }} ctx
 */
export function membersScreen(root, { api, me, selfChanged }) {
  const admin = me.role === "TENANT_ADMIN";
  const error = h("div", { class: "form-error", role: "alert", id: "members-error", hidden: true });
  const search = /** @type {HTMLInputElement} */ (h("input", { id: "members-search", type: "search", placeholder: admin ? "Name or email" : "Name", autocomplete: "off" }));
  const role = /** @type {HTMLSelectElement} */ (h("select", { id: "members-role" }, h("option", { value: "", text: "Every role" }), ...ROLES.map((r) => h("option", { value: r, text: label(r) }))));
  const status = /** @type {HTMLSelectElement} */ (h("select", { id: "members-status" }, h("option", { value: "", text: "Any status" }), h("option", { value: "ACTIVE", text: "Active" }), h("option", { value: "SUSPENDED", text: "Suspended" })));
  const body = h("tbody", {});
  const state = h("p", { class: "state muted", role: "status" });
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-ghost btn-block", text: "Show more", hidden: true }));
  /** @type {string | null} */
  let next = null;
  let loads = 0;

  const heads = ["Name", ...(admin ? ["Email"] : []), "Role", "Status", "Joined", ...(admin ? ["Actions"] : [])];
  const wait = debounce(250);

  /** @param {boolean} fresh */
  async function load(fresh) {
    const mine = ++loads;
    if (fresh) {
      body.replaceChildren();
      next = null;
    }
    state.textContent = "Loading members…";
    more.hidden = true;
    try {
      const page = await api.members({ search: search.value.trim(), role: /** @type {any} */ (role.value) || undefined, status: status.value || undefined, after: fresh ? undefined : next || undefined, limit: 25 });
      if (mine !== loads) return;
      body.append(...page.members.map(row));
      labelCells(/** @type {Element} */ (body.parentElement));
      next = page.next;
      more.hidden = !next;
      state.textContent = body.childElementCount ? "" : "No members match.";
    } catch (e) {
      if (mine !== loads) return;
      state.textContent = `Could not load the members: ${/** @type {Error} */ (e).message}`;
    }
  }

  /** @param {Member} m */
  function row(m) {
    const tr = h("tr", { dataset: { member: String(m.id) } });
    const self = m.id === me.user.id;
    const fill = (/** @type {Member} */ member) => {
      tr.replaceChildren(
        h("td", {}, h("span", { class: "member-name", text: member.displayName }), self ? h("span", { class: "muted small", text: " (you)" }) : null),
        ...(admin ? [h("td", { class: "small", text: member.email || "" })] : []),
        h("td", {}, admin ? roleSelect(member) : h("span", { text: label(member.role) })),
        h("td", {}, h("span", { class: `chip status-${member.status.toLowerCase()}`, text: label(member.status) })),
        h("td", { class: "small", text: timeOf(member.joinedAt) }),
        ...(admin ? [h("td", {}, ...actions(member))] : []),
      );
    };
    /** @param {Promise<Member>} promise @param {string} done */
    const change = async (promise, done) => {
      showRefusal(error, null);
      try {
        const member = await promise;
        fill(member);
        labelCells(/** @type {Element} */ (body.parentElement));
        toast(done);
        if (self) selfChanged();
      } catch (e) {
        fill(m);
        labelCells(/** @type {Element} */ (body.parentElement));
        showRefusal(error, e);
      }
    };
    /** @param {Member} member */
    const roleSelect = (member) => {
      const select = /** @type {HTMLSelectElement} */ (h("select", { class: "inline-select", "aria-label": `Role of ${member.displayName}` }, ...ROLES.map((r) => h("option", { value: r, text: label(r) }))));
      select.value = member.role;
      select.addEventListener("change", async () => {
        // Asked first: a role decides the channels someone is in, and a closed select
        // changes on every arrow key.
        const wanted = /** @type {MembershipRole} */ (select.value);
        const ok = await ask({ title: `Make ${member.displayName} ${label(wanted).toLowerCase()}?`, text: "Their channels follow the new role at once.", confirmLabel: "Change role" });
        if (!ok) {
          select.value = member.role;
          select.focus();
          return;
        }
        m = member;
        change(api.changeRole(member.id, wanted), `${member.displayName} is now ${label(wanted).toLowerCase()}.`);
      });
      return select;
    };
    /** @param {Member} member */
    const actions = (member) => {
      const name = member.displayName;
      const suspend = member.status === "ACTIVE"
        ? h("button", { type: "button", class: "btn btn-small", text: "Suspend", "aria-label": `Suspend ${name}`, onclick: async () => {
            const ok = await ask({ title: `Suspend ${name}?`, text: "They lose access to the organisation (and their sockets close) until reactivated.", confirmLabel: "Suspend", danger: true });
            if (ok) { m = member; change(api.suspendMember(member.id), `${name} is suspended.`); }
          } })
        : h("button", { type: "button", class: "btn btn-small", text: "Reactivate", "aria-label": `Reactivate ${name}`, onclick: () => { m = member; change(api.reactivateMember(member.id), `${name} is active again.`); } });
      const remove = h("button", { type: "button", class: "btn btn-small btn-danger", text: "Remove", "aria-label": `Remove ${name}`, onclick: async () => {
        const ok = await ask({ title: `Remove ${name}?`, text: "The membership ends and they leave the organisation's channels; their account and messages stay.", confirmLabel: "Remove", danger: true });
        if (!ok) return;
        showRefusal(error, null);
        try {
          await api.removeMember(member.id);
          tr.remove();
          toast(`${name} was removed.`);
          if (self) selfChanged();
        } catch (e) {
          showRefusal(error, e);
        }
      } });
      return [suspend, remove];
    };
    fill(m);
    return tr;
  }

  search.addEventListener("input", () => wait(() => load(true)));
  role.addEventListener("change", () => load(true));
  status.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));

  root.replaceChildren(
    panel(
      "Members",
      h("p", { class: "muted small", text: admin ? "Change a role, suspend or remove a member. Each change reaches them at once and is audited." : "Your organisation's members. Tenant admins manage them." }),
      h(
        "div",
        { class: "toolbar" },
        h("label", { for: "members-search", class: "sr-only", text: "Search members" }),
        search,
        h("label", { for: "members-role", class: "sr-only", text: "Role" }),
        role,
        ...(admin ? [h("label", { for: "members-status", class: "sr-only", text: "Status" }), status] : []),
      ),
      error,
      h("div", { class: "table-wrap" }, h("table", { id: "members-table", class: "stack" }, h("thead", {}, h("tr", {}, ...heads.map((t) => h("th", { scope: "col", text: t })))), body)),
      state,
      more,
    ),
  );
  load(true);
}

// --- invitations -------------------------------------------------------------------------

/**
 * Invitations: invite by email in a role (tenant admins any role, the management team
 * participants), the pending ones with resend and revoke.
 * @param {HTMLElement} root @param {{ api: ChatApi, me: Me }} ctx
 */
export function invitationsScreen(root, { api, me }) {
  const roles = me.role === "TENANT_ADMIN" ? ROLES : /** @type {MembershipRole[]} */ (["PARTICIPANT"]);
  const error = h("div", { class: "form-error", role: "alert", id: "invite-error", hidden: true });
  const listError = h("div", { class: "form-error", role: "alert", hidden: true });
  const form = /** @type {HTMLFormElement} */ (
    h(
      "form",
      { id: "invite-form", class: "provision", novalidate: true },
      h("div", {}, h("label", { for: "invite-email", text: "Email" }), h("input", { id: "invite-email", name: "email", type: "email", required: true, autocomplete: "off" })),
      h("div", {}, h("label", { for: "invite-name", text: "Name (optional)" }), h("input", { id: "invite-name", name: "displayName", maxlength: "150", autocomplete: "off" })),
      h("div", {}, h("label", { for: "invite-role", text: "Role" }), h("select", { id: "invite-role", name: "role" }, ...roles.map((r) => h("option", { value: r, text: label(r) })))),
      h("div", {}, h("button", { type: "submit", class: "btn btn-primary btn-block", text: "Send invitation" })),
    )
  );
  /** @type {HTMLSelectElement} */ (form.querySelector("#invite-role")).value = "PARTICIPANT";
  const list = h("div", {});
  /** @type {Set<number>} */
  let known = new Set();

  async function load() {
    list.replaceChildren(h("p", { class: "state muted", text: "Loading invitations…" }));
    try {
      const { invitations } = await api.invitations();
      known = new Set(invitations.map((i) => i.id));
      if (!invitations.length) return list.replaceChildren(h("p", { class: "state muted", text: "No pending invitations." }));
      const rows = invitations.map((i) =>
        h(
          "tr",
          { dataset: { invitation: String(i.id) } },
          h("td", { text: i.email }),
          h("td", { text: i.displayName }),
          h("td", { text: label(i.role) }),
          h("td", { class: "small", text: i.invitedBy ? i.invitedBy.displayName : "" }),
          h("td", { class: "small", text: timeOf(i.expiresAt) }),
          h(
            "td",
            {},
            h("button", { type: "button", class: "btn btn-small", text: "Resend", "aria-label": `Resend to ${i.email}`, onclick: () => send({ email: i.email, role: i.role, displayName: i.displayName }, listError) }),
            h("button", { type: "button", class: "btn btn-small btn-danger", text: "Revoke", "aria-label": `Revoke the invitation of ${i.email}`, onclick: async () => {
              const ok = await ask({ title: `Revoke the invitation of ${i.email}?`, text: "Its link stops working.", confirmLabel: "Revoke", danger: true });
              if (!ok) return;
              showRefusal(listError, null);
              try {
                await api.revokeInvitation(i.id);
                toast(`The invitation of ${i.email} is revoked.`);
                load();
              } catch (e) {
                showRefusal(listError, e);
              }
            } }),
          ),
        ),
      );
      list.replaceChildren(table(["Email", "Name", "Role", "Invited by", "Expires", "Actions"], rows));
    } catch (e) {
      list.replaceChildren(h("p", { class: "state muted", text: `Could not load the invitations: ${/** @type {Error} */ (e).message}` }));
    }
  }

  /** @param {{ email: string, role: MembershipRole, displayName?: string }} body @param {HTMLElement} area */
  async function send(body, area) {
    showRefusal(area, null);
    try {
      const invitation = await api.invite(body);
      toast(known.has(invitation.id) ? `Invitation mailed again to ${invitation.email}.` : `Invitation sent to ${invitation.email}.`);
      await load();
      return true;
    } catch (e) {
      showRefusal(area, e);
      return false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const email = String(data.get("email") || "").trim();
    if (!email) return showRefusal(error, new ApiError(400, "invalid_input", "Enter the address to invite.", { email: ["Required."] }));
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    button.disabled = true;
    const name = String(data.get("displayName") || "").trim();
    const ok = await send({ email, role: /** @type {MembershipRole} */ (String(data.get("role"))), ...(name ? { displayName: name } : {}) }, error);
    button.disabled = false;
    if (ok) {
      form.reset();
      /** @type {HTMLSelectElement} */ (form.querySelector("#invite-role")).value = "PARTICIPANT";
    }
  });

  root.replaceChildren(
    panel(
      "Invite someone",
      h("p", { class: "muted small", text: me.role === "TENANT_ADMIN" ? "They get a mail with a link to join; it works once, until the date shown below." : "The management team invites participants; they get a mail with a link to join." }),
      error,
      form,
    ),
    panel("Pending invitations", listError, list),
  );
  load();
}

/** "Chrome on Linux" from a User-Agent header. @param {string} agent */
function clientName(agent) {
  if (!agent) return "Unknown client";
  const browsers = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["HeadlessChrome/", "Headless Chrome"], ["Chrome/", "Chrome"], ["Safari/", "Safari"], ["curl/", "curl"]];
  const systems = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS X", "macOS"], ["Linux", "Linux"]];
  const browser = browsers.find(([mark]) => agent.includes(mark));
  const system = systems.find(([mark]) => agent.includes(mark));
  if (!browser) return agent.slice(0, 60);
  return system ? `${browser[1]} on ${system[1]}` : browser[1];
}

// --- your account ------------------------------------------------------------------------

/**
 * Your password and your sessions (on the tenant app and the console alike).
 * @param {HTMLElement} root @param {{ api: ChatApi, me: Me, signOut: () => void }} ctx
 */
export function accountScreen(root, { api, me, signOut }) {
  const error = h("div", { class: "form-error", role: "alert", id: "password-error", hidden: true });
  const form = /** @type {HTMLFormElement} */ (
    h(
      "form",
      { id: "password-form", class: "account-form", novalidate: true },
      h("input", { type: "email", value: me.user.email, autocomplete: "username", hidden: true, readonly: true }),
      h("label", { for: "password-current", text: "Current password" }),
      h("input", { id: "password-current", name: "current", type: "password", autocomplete: "current-password", required: true }),
      h("label", { for: "password-new", text: "New password" }),
      h("input", { id: "password-new", name: "new", type: "password", autocomplete: "new-password", required: true }),
      h("label", { for: "password-again", text: "The new password again" }),
      h("input", { id: "password-again", name: "again", type: "password", autocomplete: "new-password", required: true }),
      h("button", { type: "submit", class: "btn btn-primary", text: "Change password" }),
    )
  );
  const sessions = h("div", {});

  async function loadSessions() {
    sessions.replaceChildren(h("p", { class: "state muted", text: "Loading sessions…" }));
    try {
      const page = await api.sessions();
      const rows = page.sessions.map((s) =>
        h(
          "tr",
          { dataset: { session: String(s.id) } },
          h("td", {}, h("span", { text: clientName(s.userAgent), title: s.userAgent || undefined }), s.current ? h("span", { class: "chip status-active", text: "This session" }) : null),
          h("td", { class: "small", text: timeOf(s.createdAt) }),
          h("td", { class: "small", text: s.lastUsedAt ? timeOf(s.lastUsedAt) : "" }),
          h("td", { class: "small", text: timeOf(s.expiresAt) }),
          h(
            "td",
            {},
            s.current
              ? h("button", { type: "button", class: "btn btn-small", text: "Sign out", onclick: signOut })
              : h("button", { type: "button", class: "btn btn-small btn-danger", text: "End", "aria-label": `End the session started ${timeOf(s.createdAt)}`, onclick: async () => {
                  try {
                    await api.revokeSession(s.id);
                    toast("That session has ended.");
                    loadSessions();
                  } catch (e) {
                    toast(/** @type {Error} */ (e).message, "error");
                  }
                } }),
          ),
        ),
      );
      sessions.replaceChildren(table(["Client", "Signed in", "Last used", "Expires", ""], rows));
    } catch (e) {
      sessions.replaceChildren(h("p", { class: "state muted", text: `Could not load your sessions: ${/** @type {Error} */ (e).message}` }));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showRefusal(error, null);
    const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (form.querySelector(`#${id}`)).value;
    if (value("password-new") !== value("password-again")) {
      showError(error, { message: "The two new passwords differ." });
      return;
    }
    try {
      await api.changePassword(value("password-current"), value("password-new"));
      form.reset();
      toast("Password changed. Your other sessions have ended.");
      loadSessions();
    } catch (e) {
      const err = /** @type {ApiError} */ (e);
      showRefusal(error, err.code === "wrong_password" ? new ApiError(err.status, err.code, "The current password is not right.") : err);
    }
  });

  root.replaceChildren(
    panel(
      "Your account",
      h("p", {}, h("strong", { text: me.user.displayName }), " · ", h("span", { text: me.user.email }), me.role ? h("span", { class: "muted", text: ` · ${label(me.role)}` }) : null),
    ),
    panel("Change your password", h("p", { class: "muted small", text: "Changing it signs you out everywhere else." }), error, form),
    panel("Where you are signed in", sessions),
  );
  loadSessions();
}

// --- forgot password ---------------------------------------------------------------------

/** Asks for an address and mails it a reset link. @param {ChatApi} api @param {string} email */
export async function forgotPassword(api, email) {
  const value = await ask({ title: "Reset your password", text: "We mail a link to choose a new password (valid one hour) if the address has an account here.", field: "Email", confirmLabel: "Mail me a link", initial: email });
  if (!value) return;
  try {
    await api.requestPasswordReset(value.trim());
    toast("If that address has an account here, a link is on its way. Check your mail.");
  } catch (e) {
    toast(/** @type {Error} */ (e).message, "error");
  }
}

// --- the assignee picker -----------------------------------------------------------------

/**
 * Chooses whom a ticket is assigned to, among those who may be: the organisation's active
 * tenant admins and management team (`assignable_roles`), searchable; on platform tickets
 * the super admin themself. Resolves the chosen user's id, or null when cancelled.
 * @param {{ api: ChatApi, me: Me, channel: Channel }} ctx
 * @returns {Promise<number | null>}
 */
export function pickAssignee({ api, me, channel }) {
  return new Promise((resolve) => {
    const search = /** @type {HTMLInputElement} */ (h("input", { id: "assignee-search", type: "search", autocomplete: "off", placeholder: "Search by name" }));
    const options = h("div", { class: "people-picker assignee-options", role: "radiogroup", "aria-labelledby": "assign-title", id: "assignee-options" });
    const error = h("div", { class: "form-error", role: "alert", hidden: true });
    const confirm = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary", text: "Assign", disabled: true }));
    const current = channel.assignedTo ? channel.assignedTo.id : null;
    const platform = channel.type === "PLATFORM_SUPPORT";
    const dialog = /** @type {HTMLDialogElement} */ (
      h(
        "dialog",
        { class: "dialog", "aria-labelledby": "assign-title" },
        h(
          "form",
          { method: "dialog" },
          h("h2", { id: "assign-title", text: "Assign the ticket" }),
          h("p", { class: "muted small", text: platform ? "Platform tickets are assigned to a super admin." : "Tenant admins and the management team can take a ticket." }),
          platform ? null : h("label", { for: "assignee-search", text: "Search staff" }),
          platform ? null : search,
          error,
          options,
          h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "btn", text: "Cancel", onclick: () => dialog.close("") }), confirm),
        ),
      )
    );

    /** @param {Array<{ id: number, displayName: string, role: string }>} people */
    const render = (people) => {
      if (!people.length) {
        options.replaceChildren(h("p", { class: "muted small", text: "No one matches." }));
        confirm.disabled = true;
        return;
      }
      options.replaceChildren(
        ...people.map((p) =>
          h(
            "label",
            { class: "check" },
            h("input", { type: "radio", name: "assignee", value: String(p.id), checked: p.id === current, onchange: () => { confirm.disabled = false; } }),
            h("span", { text: p.displayName }),
            h("span", { class: "muted small", text: `${label(p.role)}${p.id === me.user.id ? " · you" : ""}${p.id === current ? " · assigned now" : ""}` }),
          ),
        ),
      );
      confirm.disabled = !options.querySelector("input:checked");
    };

    let loads = 0;
    const load = async () => {
      if (platform) return render(me.user.isSuperAdmin ? [{ id: me.user.id, displayName: me.user.displayName, role: "SUPER_ADMIN" }] : []);
      const mine = ++loads;
      options.replaceChildren(h("p", { class: "muted small", text: "Loading staff…" }));
      try {
        const query = { search: search.value.trim(), status: "ACTIVE", limit: 50 };
        const pages = await Promise.all([api.members({ ...query, role: "TENANT_ADMIN" }), api.members({ ...query, role: "MANAGEMENT_TEAM" })]);
        if (mine !== loads) return;
        render(pages.flatMap((p) => p.members).sort((a, b) => a.displayName.localeCompare(b.displayName)));
      } catch (e) {
        if (mine === loads) showRefusal(error, e);
      }
    };
    const wait = debounce(250);
    search.addEventListener("input", () => wait(load));

    dialog.querySelector("form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      const picked = /** @type {HTMLInputElement | null} */ (options.querySelector("input:checked"));
      dialog.close(picked ? picked.value : "");
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue ? Number(dialog.returnValue) : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (platform ? confirm : search).focus();
    load();
  });
}
