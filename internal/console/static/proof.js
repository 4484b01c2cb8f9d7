// proof.js: the people's portal checks, in the person's browser, that an
// access shown in their history is in Coffre's signed audit log.
//
// For the entry of a row it fetches the person's history (GET
// /portal/accesses.json, their own, with its proofs) and the log's
// published verifier key (GET /v1/audit/key), then:
//   1. reads the entry's leaf (the canonical bytes of the audit entry),
//      checks it is the entry of this number about this person and that
//      it holds what the row shows, and hashes it (RFC 6962: SHA-256 of
//      0x00 and the leaf);
//   2. walks the inclusion proof from the leaf hash up to a root (RFC 6962
//      / transparency-dev/merkle proof.VerifyInclusion), and checks it is
//      the root the checkpoint signs, for the checkpoint's size;
//   3. does the same for the entry's leaf in the person's subject index
//      (what proves the history complete), against the index root the
//      checkpoint signs;
//   4. checks the checkpoint's signature (a C2SP signed note, Ed25519)
//      against the published key, with WebCrypto.
// and says the outcome in words next to the row (an aria-live region).
// No library: WebCrypto (crypto.subtle) only. Without JavaScript the page
// reads the same, and the proofs are in the download of the person's data.
//
// The same file runs under Node for the server-side test (module.exports),
// where there is no document.
(function () {
  "use strict";

  const enc = new TextEncoder();

  // ProofError is a check that failed: code names what (a key of words).
  class ProofError extends Error {
    constructor(code, args) {
      super(code);
      this.code = code;
      this.args = args || [];
    }
  }
  const fail = (code, ...args) => { throw new ProofError(code, args); };

  function b64(s) {
    if (typeof s !== "string") fail("format");
    let bin;
    try { bin = atob(s); } catch (e) { fail("format"); }
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function concat(...parts) {
    let n = 0;
    for (const p of parts) n += p.length;
    const out = new Uint8Array(n);
    let i = 0;
    for (const p of parts) { out.set(p, i); i += p.length; }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  async function sha256(b) { return new Uint8Array(await crypto.subtle.digest("SHA-256", b)); }
  // RFC 6962 hashing (transparency-dev/merkle rfc6962.DefaultHasher).
  const hashLeaf = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
  const hashChildren = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

  function uvarint(b, i) {
    let x = 0, mul = 1;
    for (let k = 0; k < 10 && i < b.length; k++, i++) {
      const c = b[i];
      x += (c & 0x7f) * mul;
      if (c < 0x80) return [x, i + 1];
      mul *= 128;
    }
    fail("leaf");
  }

  function appendUvarint(n) {
    const out = [];
    while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128); }
    out.push(n);
    return Uint8Array.from(out);
  }

  function be64(n) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(n));
    return out;
  }

  // parseLeaf reads an audit leaf (internal/audit LeafData): the prefix
  // coffre-audit/v1 or v2, then ten fields, each a uvarint length and its
  // bytes: seq, time (µs), actor, action, subject, purpose, reason,
  // fields, decision, origin.
  function parseLeaf(b) {
    const prefix = new TextDecoder().decode(b.subarray(0, 15));
    if (prefix !== "coffre-audit/v1" && prefix !== "coffre-audit/v2") fail("leaf");
    const dec = new TextDecoder("utf-8", { fatal: true });
    const fs = [];
    let i = 15;
    for (let k = 0; k < 10; k++) {
      let n;
      [n, i] = uvarint(b, i);
      if (n > b.length - i) fail("leaf");
      const raw = b.subarray(i, i + n);
      i += n;
      if (k === 6) { fs.push(""); continue; } // the reason: sealed in v2, never shown here
      try { fs.push(dec.decode(raw)); } catch (e) { fail("leaf"); }
    }
    if (i !== b.length) fail("leaf");
    return { seq: fs[0], time: fs[1], actor: fs[2], action: fs[3], subject: fs[4], purpose: fs[5], fields: fs[7], decision: fs[8], origin: fs[9] };
  }

  const bitLen = (x) => x === 0n ? 0 : x.toString(2).length;
  function popcount(x) { let n = 0; for (; x > 0n; x >>= 1n) n += Number(x & 1n); return n; }

  // rootFromInclusion is transparency-dev/merkle proof.RootFromInclusionProof.
  async function rootFromInclusion(index, size, leafHash, proof) {
    if (index >= size) return null;
    const inner = bitLen(index ^ (size - 1n));
    const border = popcount(index >> BigInt(inner));
    if (proof.length !== inner + border) return null;
    let h = leafHash;
    for (let i = 0; i < inner; i++) {
      h = ((index >> BigInt(i)) & 1n) === 0n ? await hashChildren(h, proof[i]) : await hashChildren(proof[i], h);
    }
    for (let i = inner; i < proof.length; i++) h = await hashChildren(proof[i], h);
    return h;
  }

  // parseKey reads a note verifier key: name+hash+base64(0x01 || Ed25519 key).
  async function parseKey(vkey) {
    // name+hash+key: the name and the hash hold no "+", the key's base64 may.
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(String(vkey).trim());
    if (!m) fail("key");
    const parts = m.slice(1);
    const raw = b64(parts[2]);
    if (raw.length !== 33 || raw[0] !== 1) fail("key");
    const h = await sha256(concat(enc.encode(parts[0] + "\n"), raw));
    const hash = h.subarray(0, 4);
    if (Array.from(hash, (x) => x.toString(16).padStart(2, "0")).join("") !== parts[1]) fail("key");
    return { name: parts[0], id: parts[0] + "+" + parts[1], hash: hash, pub: raw.subarray(1) };
  }

  // parseNote splits a signed note into its text and signature lines, and
  // its text into a checkpoint (internal/audit Body).
  function parseNote(note) {
    if (typeof note !== "string" || !note.endsWith("\n")) fail("checkpoint");
    const split = note.lastIndexOf("\n\n");
    if (split < 0) fail("checkpoint");
    const text = note.slice(0, split + 1);
    const sigs = note.slice(split + 2).split("\n").filter((l) => l !== "");
    const lines = text.split("\n");
    if (lines.length < 4 || !/^[0-9]+$/.test(lines[1])) fail("checkpoint");
    const cp = { text: text, sigs: sigs, origin: lines[0], size: BigInt(lines[1]), root: b64(lines[2]), index: null };
    if (cp.root.length !== 32) fail("checkpoint");
    if (lines[3] !== "") {
      const f = lines[3].split(" ");
      if (f.length !== 4 || f[0] !== "subject-index" || !/^[0-9]+$/.test(f[2])) fail("checkpoint");
      cp.index = { size: BigInt(f[2]), root: b64(f[3]) };
    }
    return cp;
  }

  // verifySignature checks that one of the note's signatures is the key's.
  async function verifySignature(cp, key) {
    if (cp.origin !== key.name) fail("origin", cp.origin, key.name);
    let sig = null;
    for (const line of cp.sigs) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m || m[1] !== key.name) continue;
      const b = b64(m[2]);
      if (b.length === 68 && equal(b.subarray(0, 4), key.hash)) sig = b.subarray(4);
    }
    if (sig === null) fail("nosig");
    let k;
    try {
      k = await crypto.subtle.importKey("raw", key.pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      fail("ed25519");
    }
    if (!await crypto.subtle.verify({ name: "Ed25519" }, k, sig, enc.encode(cp.text))) fail("signature");
  }

  // verify checks entry seq of history against the verifier key vkey;
  // shown is what the page says of it (time in µs, action, purpose,
  // fields joined by ", ", decision), or null. It returns {seq, size, key}
  // (key: the verifier key's name and hash, to compare with the key the
  // organisation publishes elsewhere) or throws a ProofError.
  async function verify(history, seq, vkey, shown) {
    const key = await parseKey(vkey);
    if (!history || !Array.isArray(history.entries)) fail("format");
    const e = history.entries.find((x) => x.seq === seq);
    if (!e) fail("missing", seq);
    if (e.withheld || !e.leaf) fail("withheld", seq);
    // 1. The leaf: this entry, about this person, holding what the row says.
    const leaf = b64(e.leaf);
    const x = parseLeaf(leaf);
    if (x.seq !== String(seq) || x.subject !== history.subject) fail("other", seq);
    if (shown) {
      const want = { time: x.time, action: x.action, purpose: x.purpose, fields: x.fields.split(",").filter(Boolean).join(", "), decision: x.decision };
      for (const k of ["time", "action", "purpose", "fields", "decision"]) {
        if (String(shown[k] || "") !== want[k]) fail("shown", k);
      }
    }
    const lh = await hashLeaf(leaf);
    // 2. The inclusion proof, to the root the checkpoint signs.
    const cp = parseNote(history.checkpoint);
    if (BigInt(seq) < 1n || BigInt(seq) > cp.size) fail("size", seq, cp.size);
    const root = await rootFromInclusion(BigInt(seq - 1), cp.size, lh, (e.proof || []).map(b64));
    if (root === null || !equal(root, cp.root)) fail("inclusion", seq);
    // 3. Its place in the person's subject index.
    if (cp.index) {
      const subj = enc.encode(history.subject);
      const il = concat(enc.encode("coffre/subject-index/v1\u0000"), appendUvarint(subj.length), subj, be64(seq), lh, be64(e.previous || 0));
      const ir = await rootFromInclusion(BigInt(e.index), cp.index.size, await hashLeaf(il), (e.index_proof || []).map(b64));
      if (ir === null || !equal(ir, cp.index.root)) fail("index", seq);
    }
    // 4. The checkpoint's signature, by the published key.
    await verifySignature(cp, key);
    return { seq: seq, size: cp.size, key: key.id };
  }

  const words = {
    fr: {
      button: "Vérifier",
      busy: "Vérification en cours…",
      ok: (seq, size, key) => `Vérifiée : l'entrée n°${seq} est dans le journal signé (${size} entrées), et la signature est celle de la clé publiée (${key}).`,
      failed: "Échec de la vérification : ",
      fetch: () => "l'historique ou la clé publiée n'a pas pu être lu.",
      format: () => "l'historique reçu n'est pas lisible.",
      key: () => "la clé publiée n'est pas une clé de vérification.",
      missing: (s) => `l'entrée n°${s} n'est pas dans l'historique.`,
      withheld: (s) => `le contenu de l'entrée n°${s} est encore différé.`,
      leaf: () => "l'entrée n'est pas une entrée d'audit bien formée.",
      other: (s) => `la feuille n'est pas l'entrée n°${s} vous concernant.`,
      shown: (k) => `la ligne affichée ne correspond pas à l'entrée signée (${k}).`,
      checkpoint: () => "le point de contrôle signé n'est pas lisible.",
      size: (s, n) => `l'entrée n°${s} n'est pas dans le journal de ${n} entrées.`,
      inclusion: (s) => `la preuve d'inclusion de l'entrée n°${s} ne mène pas à la racine signée.`,
      index: (s) => `l'entrée n°${s} n'est pas à sa place dans votre index signé.`,
      origin: (o, n) => `le point de contrôle est celui du journal « ${o} », pas de « ${n} ».`,
      nosig: () => "le point de contrôle n'est pas signé par la clé publiée.",
      signature: () => "la signature du point de contrôle n'est pas celle de la clé publiée.",
      ed25519: () => "ce navigateur ne sait pas vérifier une signature Ed25519 ; vérifiez le téléchargement avec « coffre audit verify-subject ».",
    },
    en: {
      button: "Verify",
      busy: "Verifying…",
      ok: (seq, size, key) => `Verified: entry ${seq} is in the signed log (${size} entries), and the signature is the published key's (${key}).`,
      failed: "Verification failed: ",
      fetch: () => "the history or the published key could not be read.",
      format: () => "the history received cannot be read.",
      key: () => "the published key is not a verifier key.",
      missing: (s) => `entry ${s} is not in the history.`,
      withheld: (s) => `the content of entry ${s} is still deferred.`,
      leaf: () => "the entry is not a well-formed audit entry.",
      other: (s) => `the leaf is not entry ${s} about you.`,
      shown: (k) => `the row shown does not match the signed entry (${k}).`,
      checkpoint: () => "the signed checkpoint cannot be read.",
      size: (s, n) => `entry ${s} is not in the log of ${n} entries.`,
      inclusion: (s) => `the inclusion proof of entry ${s} does not lead to the signed root.`,
      index: (s) => `entry ${s} is not in its place in your signed index.`,
      origin: (o, n) => `the checkpoint is the log “${o}”'s, not “${n}”'s.`,
      nosig: () => "the checkpoint is not signed by the published key.",
      signature: () => "the checkpoint's signature is not the published key's.",
      ed25519: () => "this browser cannot check an Ed25519 signature; check the download with “coffre audit verify-subject”.",
    },
  };

  // say is the outcome in words of lang.
  function say(lang, res, err) {
    const w = words[lang] || words.fr;
    if (!err) return w.ok(res.seq, res.size, res.key);
    const f = err instanceof ProofError && w[err.code] ? w[err.code] : w.format;
    return w.failed + f(...(err.args || []));
  }

  const api = { verify: verify, say: say, ProofError: ProofError };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (typeof document === "undefined") return;

  async function text(url, json) {
    const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) fail("fetch");
    return json ? r.json() : r.text();
  }

  function wire() {
    const table = document.getElementById("history");
    if (!table) return;
    const lang = document.documentElement.lang === "en" ? "en" : "fr";
    for (const tr of table.querySelectorAll("tr[data-seq]")) {
      const cell = tr.querySelector("td.proof");
      const out = cell && cell.querySelector(".verdict");
      if (!out) continue;
      const seq = Number(tr.dataset.seq);
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "verify";
      btn.textContent = words[lang].button;
      btn.setAttribute("aria-describedby", "proof-help");
      cell.insertBefore(btn, out);
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        out.className = "verdict";
        out.textContent = words[lang].busy;
        let res = null, err = null;
        try {
          let h, k;
          try {
            [h, k] = await Promise.all([text(table.dataset.accesses, true), text(table.dataset.key, false)]);
          } catch (e) {
            fail("fetch");
          }
          const shown = { time: tr.dataset.time, action: tr.dataset.action, purpose: tr.dataset.purpose, fields: tr.dataset.fields, decision: tr.dataset.decision };
          res = await verify(h, seq, k, shown);
        } catch (e) {
          err = e;
        }
        out.className = err ? "verdict bad" : "verdict ok";
        out.textContent = say(lang, res, err);
        btn.disabled = false;
      });
    }
  }
  wire();
})();
