// @ts-check
/**
 * The pages mailed links open: `/join?token=` (accept an invitation, on the tenant's
 * host) and `/reset-password?token=` (choose a new password, on any host). Each reads
 * what the token names, then posts the form; a token that cannot be used says why.
 */
import { ApiError, chatApi } from "./chat-client.js";
import { byId, h, label, showError } from "./ui.js";

const api = chatApi();
const token = new URLSearchParams(location.search).get("token") || "";
const state = byId("access-state");

/** Replaces the status card's content. @param {string} title @param {string} text @param {boolean} [signIn] */
function say(title, text, signIn = true) {
  state.hidden = false;
  state.replaceChildren(
    h("h1", { text: title }),
    h("p", { class: "muted", text }),
    signIn ? h("a", { href: "/", class: "btn btn-primary btn-block", text: "Go to sign-in" }) : null,
  );
  const link = state.querySelector("a");
  if (link) /** @type {HTMLElement} */ (link).focus();
}

/** Why a token cannot be used, in words. @param {unknown} error */
function refusal(error) {
  if (!(error instanceof ApiError)) return String(error);
  const known = {
    invitation_expired: "This invitation has expired. Ask whoever invited you to send it again.",
    invitation_used: "This invitation was already accepted. Sign in instead.",
    invitation_revoked: "This invitation was withdrawn.",
    invitation_invalid: "This invitation link is not valid. Check that you opened the whole link from the mail.",
    invitation_other_host: "This invitation is for another organisation: open the link exactly as mailed.",
    reset_expired: "This link has expired. Ask for a new one from the sign-in page.",
    reset_used: "This link was already used. Ask for a new one from the sign-in page if you need to.",
    reset_invalid: "This link is not valid. Check that you opened the whole link from the mail.",
  };
  if (error.fields && error.fields.token && !(error.code in known)) return known.invitation_invalid;
  return known[/** @type {keyof typeof known} */ (error.code)] || error.message;
}

/** The two password fields agree, or the error area says so. @param {HTMLFormElement} form @param {string} a @param {string} b @param {HTMLElement} area */
function samePasswords(form, a, b, area) {
  const first = /** @type {HTMLInputElement} */ (form.querySelector(`#${a}`)).value;
  const second = /** @type {HTMLInputElement} */ (form.querySelector(`#${b}`)).value;
  if (first === second) return first;
  showError(area, { message: "The two passwords differ." });
  /** @type {HTMLInputElement} */ (form.querySelector(`#${b}`)).focus();
  return null;
}

async function join() {
  const form = /** @type {HTMLFormElement} */ (byId("join-form"));
  let invitation;
  try {
    if (!token) throw new ApiError(400, "invitation_invalid", "No token.");
    invitation = await api.invitation(token);
  } catch (error) {
    return say("This invitation cannot be used", refusal(error));
  }
  const existing = invitation.existingAccount;
  byId("join-summary").textContent =
    `You are invited to ${invitation.tenant.name} as ${label(invitation.role).toLowerCase()}.`;
  /** @type {HTMLInputElement} */ (byId("join-email")).value = invitation.email;
  /** @type {HTMLInputElement} */ (byId("join-name")).value = invitation.displayName;
  byId("join-new").hidden = existing;
  byId("join-existing").hidden = !existing;
  state.hidden = true;
  form.hidden = false;
  /** @type {HTMLInputElement} */ (byId(existing ? "join-current" : "join-name")).focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const area = byId("join-error");
    showError(area, null);
    let body;
    if (existing) {
      body = { token, password: /** @type {HTMLInputElement} */ (byId("join-current")).value };
    } else {
      const password = samePasswords(form, "join-password", "join-password2", area);
      if (password === null) return;
      body = { token, password, displayName: /** @type {HTMLInputElement} */ (byId("join-name")).value.trim() };
    }
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    button.disabled = true;
    try {
      const session = await api.acceptInvitation(body);
      // Signed in: the app opens with this session.
      localStorage.setItem("chat.token", session.token);
      location.replace("/");
    } catch (error) {
      button.disabled = false;
      if (error instanceof ApiError && error.code.startsWith("invitation_")) {
        form.hidden = true;
        return say("This invitation cannot be used", refusal(error));
      }
      showError(area, error);
    }
  });
}

async function reset() {
  const form = /** @type {HTMLFormElement} */ (byId("reset-form"));
  let link;
  try {
    if (!token) throw new ApiError(400, "reset_invalid", "No token.");
    link = await api.passwordReset(token);
  } catch (error) {
    return say("This link cannot be used", refusal(error));
  }
  byId("reset-summary").textContent = `For ${link.email}. Every place you are signed in will be signed out.`;
  /** @type {HTMLInputElement} */ (byId("reset-email")).value = link.email;
  state.hidden = true;
  form.hidden = false;
  /** @type {HTMLInputElement} */ (byId("reset-password")).focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const area = byId("reset-error");
    showError(area, null);
    const password = samePasswords(form, "reset-password", "reset-password2", area);
    if (password === null) return;
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    button.disabled = true;
    try {
      await api.confirmPasswordReset(token, password);
      form.hidden = true;
      history.replaceState(null, "", location.pathname);
      say("Your password is set", "Sign in with your new password.");
    } catch (error) {
      button.disabled = false;
      if (error instanceof ApiError && error.code.startsWith("reset_")) {
        form.hidden = true;
        return say("This link cannot be used", refusal(error));
      }
      showError(area, error);
    }
  });
}

if (document.getElementById("join-form")) join();
else reset();
