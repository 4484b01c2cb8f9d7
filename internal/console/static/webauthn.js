// Coffre console: security keys (WebAuthn) in the browser.
//
// The server gives the options (POST …/begin) and checks the key's answer
// (POST …/finish); this script only carries them between the server and
// navigator.credentials, converting base64url to ArrayBuffer and back.
// The pages wire it with data-* attributes (the URLs, the CSRF token, the
// login token, the messages in the page's language): no inline script,
// as the console's Content-Security-Policy demands. Without JavaScript
// the sign-in's TOTP form works as before.
//
// assertWithKey is the one function that proves a key for a given
// challenge: the sign-in uses it, and a step-up can (window.coffreKeys).
"use strict";

(function () {
  // fromB64u decodes base64url (padded or not) to an ArrayBuffer.
  function fromB64u(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  // toB64u encodes an ArrayBuffer (or a view) as base64url, unpadded.
  function toB64u(buf) {
    const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // Refusal is the server's refusal, in its words (the page's language).
  class Refusal extends Error {
    constructor(message, hint, code) {
      super(message);
      this.name = "Refusal";
      this.hint = hint;
      this.code = code;
    }
  }

  // post sends fields as a form to url, asking for JSON, and returns the
  // answer; a refusal throws a Refusal.
  async function post(url, fields) {
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
    });
    let body = null;
    try {
      body = await resp.json();
    } catch (e) {
      body = null;
    }
    if (!resp.ok || body === null) {
      const e = (body && body.error) || {};
      throw new Refusal(e.message || "", e.hint || "", e.code || "failed");
    }
    return body;
  }

  function descriptors(list) {
    return (list || []).map((c) => Object.assign({}, c, { id: fromB64u(c.id) }));
  }

  // requestOptions and creationOptions turn the server's options (JSON,
  // binary fields in base64url) into what navigator.credentials takes.
  function requestOptions(options) {
    const pk = Object.assign({}, options.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    if (pk.allowCredentials) {
      pk.allowCredentials = descriptors(pk.allowCredentials);
    }
    return pk;
  }

  function creationOptions(options) {
    const pk = Object.assign({}, options.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64u(pk.user.id) });
    if (pk.excludeCredentials) {
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
    }
    return pk;
  }

  // assertionJSON and attestationJSON are the key's answer as the server
  // reads it (a PublicKeyCredential's JSON).
  function assertionJSON(cred) {
    const r = cred.response;
    return JSON.stringify({
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: toB64u(r.clientDataJSON),
        authenticatorData: toB64u(r.authenticatorData),
        signature: toB64u(r.signature),
        userHandle: r.userHandle ? toB64u(r.userHandle) : undefined,
      },
    });
  }

  function attestationJSON(cred) {
    const r = cred.response;
    return JSON.stringify({
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: toB64u(r.clientDataJSON),
        attestationObject: toB64u(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : undefined,
      },
    });
  }

  // assertWithKey asks the key to sign the options' challenge
  // (navigator.credentials.get) and posts its answer, as "credential"
  // beside fields, to url; it returns the server's answer.
  async function assertWithKey(options, url, fields) {
    const cred = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return post(url, Object.assign({}, fields, { credential: assertionJSON(cred) }));
  }

  // registerKey has the key make a credential (navigator.credentials.create)
  // and posts it, as "credential" beside fields, to url.
  async function registerKey(options, url, fields) {
    const cred = await navigator.credentials.create({ publicKey: creationOptions(options) });
    return post(url, Object.assign({}, fields, { credential: attestationJSON(cred) }));
  }

  function supported() {
    return window.isSecureContext && !!window.PublicKeyCredential && !!navigator.credentials;
  }

  // say shows message, and what to do, in the status region (role=alert);
  // words come from the box's data-* attributes or the server.
  function say(box, status, message, hint, refused) {
    status.replaceChildren();
    status.className = refused ? "refused" : "";
    const p = document.createElement("p");
    p.textContent = message;
    status.append(p);
    if (hint) {
      const h = document.createElement("p");
      const what = document.createElement("strong");
      what.textContent = box.dataset.what;
      h.append(what, " " + hint);
      status.append(h);
    }
  }

  // explain words err: the server's refusal, or the browser's.
  function explain(box, status, err) {
    if (err instanceof Refusal && err.message) {
      say(box, status, err.message, err.hint, true);
      return;
    }
    switch (err && err.name) {
      case "NotAllowedError":
      case "AbortError":
        say(box, status, box.dataset.cancelled, box.dataset.retry, true);
        return;
      case "InvalidStateError":
        say(box, status, box.dataset.registered, "", true);
        return;
      case "SecurityError":
      case "NotSupportedError":
        say(box, status, box.dataset.unsupported, box.dataset.retry, true);
        return;
    }
    say(box, status, box.dataset.failed, box.dataset.retry, true);
  }

  // go follows the server's answer to a page of the console.
  function go(answer) {
    const to = answer && answer.go;
    if (typeof to === "string" && to.startsWith("/console/")) {
      window.location.assign(to);
    }
  }

  // wireButton shows button and runs ceremony on each click, saying in
  // the box's status region that the key is awaited, then what went
  // wrong if it fails.
  function wireButton(box, button, status, ceremony) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      if (!supported()) {
        say(box, status, box.dataset.unsupported, box.dataset.retry, true);
        return;
      }
      button.disabled = true;
      say(box, status, box.dataset.busy, "", false);
      try {
        await ceremony();
      } catch (err) {
        explain(box, status, err);
      }
      button.disabled = false;
    });
  }

  // The sign-in's second step: "Use my security key".
  function wireSignIn(box) {
    const fields = { csrf: box.dataset.csrf, login_token: box.dataset.loginToken };
    wireButton(box, document.getElementById("key-use"), document.getElementById("key-status"), async () => {
      const options = await post(box.dataset.begin, fields);
      go(await assertWithKey(options, box.dataset.finish, fields));
    });
  }

  // The keys page's form: name a key, then touch it.
  function wireAdd(form) {
    const status = document.getElementById("key-status");
    const button = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!supported()) {
        say(form, status, form.dataset.unsupported, "", true);
        return;
      }
      button.disabled = true;
      say(form, status, form.dataset.busy, "", false);
      const fields = { csrf: form.elements.namedItem("csrf").value, name: form.elements.namedItem("name").value.trim() };
      try {
        const options = await post(form.dataset.begin, fields);
        go(await registerKey(options, form.dataset.finish, fields));
      } catch (err) {
        explain(form, status, err);
        button.disabled = false;
      }
    });
  }

  // A step-up with a key: prove a fresh second factor in the session, for
  // the purpose checked in the box's form (the reveal), or none (the keys
  // page, which then reloads).
  function wireStepUp(box) {
    const status = document.getElementById("stepup-status");
    wireButton(box, document.getElementById("stepup-key"), status, async () => {
      const form = box.dataset.form ? document.getElementById(box.dataset.form) : null;
      const checked = form ? form.querySelector('input[name="purpose"]:checked') : null;
      const fields = { csrf: box.dataset.csrf, purpose: checked ? checked.value : "" };
      const options = await post(box.dataset.begin, { csrf: box.dataset.csrf });
      await assertWithKey(options, box.dataset.finish, fields);
      if (box.dataset.after && box.dataset.after.startsWith("/console/")) {
        window.location.assign(box.dataset.after);
        return;
      }
      say(box, status, box.dataset.done, "", false);
    });
  }

  const signIn = document.getElementById("key-signin");
  if (signIn) {
    wireSignIn(signIn);
  }
  const add = document.getElementById("key-add");
  if (add) {
    wireAdd(add);
  }
  const stepUp = document.getElementById("key-stepup");
  if (stepUp) {
    wireStepUp(stepUp);
  }
  window.coffreKeys = { assertWithKey: assertWithKey, post: post, explain: explain, go: go };
})();
