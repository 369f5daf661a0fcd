'use strict';
// Doorman's challenge page script (docs/challenge.md). Runs under a CSP with a nonce and
// `worker-src blob:`: no eval, no external files. Everything it needs is in the data-*
// attributes of <main id="doorman">.

// The proof-of-work search. Its source is also the Web Worker's source (through a Blob URL),
// and it runs on the page itself when workers are unavailable, with `scope` standing in for
// the worker's global object. Finds a counter such that SHA-256(token ":" counter) starts with
// `difficulty` zero bits, trying start, start+step, start+2*step, ...
function solver(scope) {
  // SHA-256 for pages served over plain HTTP, where browsers withhold crypto.subtle.
  const K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ];
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  function sha256(bytes) {
    const n = bytes.length;
    const w = new Uint32Array(((n + 9 + 63) >> 6) << 4);
    for (let i = 0; i < n; i++) w[i >> 2] |= bytes[i] << (24 - (i & 3) * 8);
    w[n >> 2] |= 0x80 << (24 - (n & 3) * 8);
    w[w.length - 1] = n * 8;
    const H = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    const W = new Uint32Array(64);
    for (let off = 0; off < w.length; off += 16) {
      for (let t = 0; t < 64; t++) {
        if (t < 16) W[t] = w[off + t];
        else {
          const x = W[t - 15], y = W[t - 2];
          W[t] = W[t - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[t - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10));
        }
      }
      let [a, b, c, d, e, f, g, h] = H;
      for (let t = 0; t < 64; t++) {
        const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    }
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = H[i >> 2] >>> (24 - (i & 3) * 8);
    return out;
  }

  const subtle = scope.crypto && scope.crypto.subtle;
  const digest = subtle
    ? (b) => subtle.digest('SHA-256', b).then((h) => new Uint8Array(h))
    : (b) => Promise.resolve(sha256(b));
  const enough = (h, bits) => {
    let i = 0;
    for (; bits >= 8; bits -= 8) if (h[i++] !== 0) return false;
    return bits === 0 || h[i] >> (8 - bits) === 0;
  };
  const enc = new TextEncoder();

  scope.onmessage = async (event) => {
    const { token, difficulty, start, step, yieldToPage } = event.data;
    let tried = 0;
    let lastYield = Date.now();
    for (let c = start; ; ) {
      // Hash in batches: crypto.subtle is asynchronous, and many digests in flight are much
      // faster than one at a time.
      const batch = [];
      for (let i = 0; i < 256; i++, c += step) batch.push(c);
      const hashes = await Promise.all(batch.map((x) => digest(enc.encode(token + ':' + x))));
      for (let i = 0; i < batch.length; i++) {
        if (enough(hashes[i], difficulty)) {
          scope.postMessage({ found: batch[i], tried: tried + i + 1 });
          return;
        }
      }
      tried += batch.length;
      scope.postMessage({ tried });
      // On the page itself, let it repaint the progress line now and then (not after every
      // batch: nested timers are clamped to 4 ms, which would cost more than the hashing).
      if (yieldToPage && Date.now() - lastYield > 100) {
        await new Promise((r) => setTimeout(r, 0));
        lastYield = Date.now();
      }
    }
  };
  return sha256;
}

if (typeof document !== 'undefined') (function page() {
  const d = document.getElementById('doorman').dataset;
  const $ = (id) => document.getElementById(id);
  const show = (id, text) => {
    const el = $(id);
    if (text !== undefined) el.textContent = text;
    el.hidden = false;
    return el;
  };
  const difficulty = Number(d.difficulty);
  const expected = Math.pow(2, difficulty);
  const num = (x) => Math.round(x).toLocaleString('en');
  const span = (ms) => {
    const s = Math.round(ms / 1000);
    const [n, unit] = s < 90 ? [s, 'second'] : s < 3570 ? [Math.round(s / 60), 'minute']
      : s < 129600 ? [Math.round(s / 3600), 'hour'] : [Math.round(s / 86400), 'day'];
    return n + ' ' + unit + (n === 1 ? '' : 's');
  };

  // The client's clock against the server's. When the response arrived, the server's clock
  // read about server-ms (plus the time to send it); this device's clock read Date.now() minus
  // the time elapsed since then, measured on the monotonic clock.
  const nav = performance.getEntriesByType ? performance.getEntriesByType('navigation')[0] : null;
  const sinceArrival = nav && nav.responseStart > 0 ? performance.now() - nav.responseStart : 0;
  const offsetMs = Math.round(Date.now() - sinceArrival - Number(d.serverMs));
  const clockOff = Math.abs(offsetMs) > Number(d.skewS) * 1000;
  if (clockOff) {
    const opts = Math.abs(offsetMs) > 43200000 ? {} : { hour: '2-digit', minute: '2-digit' };
    const when = (t) => (opts.hour ? t.toLocaleTimeString([], opts) : t.toLocaleString());
    show('clock', 'Your device\'s clock is ' + span(Math.abs(offsetMs)) + (offsetMs > 0 ? ' fast' : ' slow') +
      ': it shows ' + when(new Date()) + ', but the time is ' + when(new Date(Date.now() - offsetMs)) +
      '. This check works anyway, but secure connections, sign-ins and security checks on many sites fail ' +
      'when the clock is off. Fix: turn on automatic date and time ("Set time automatically") in your ' +
      'device\'s date and time settings.');
  }

  let workers = [];
  let tried = [];
  let done = false;
  let onPage = false;
  let started = 0;
  let watchdog = 0;

  const stop = () => {
    workers.forEach((w) => w.terminate());
    workers = [];
    clearTimeout(watchdog);
  };

  function report(i, m) {
    if (done) return;
    clearTimeout(watchdog);
    tried[i] = m.tried;
    const total = tried.reduce((a, b) => a + (b || 0), 0);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    if (m.found !== undefined) {
      done = true;
      stop();
      $('status').removeAttribute('aria-busy');
      show('status', 'Solved after ' + num(total) + ' attempts in ' + secs + ' s. Sending the answer…');
      submit(m.found, total, Math.round(performance.now() - started));
    } else {
      // The numbers change many times a second, and a screen reader would read each one out:
      // while busy, the live region ("Working…" was read already) waits for the outcome.
      $('status').setAttribute('aria-busy', 'true');
      show('status', 'Working: ' + num(total) + ' of about ' + num(expected) + ' attempts, ' + secs + ' s…');
    }
  }

  // Without workers (a browser without them, or one that refuses blob: workers), solve here.
  function solveOnPage() {
    if (done || onPage) return;
    onPage = true;
    stop();
    tried = [];
    const scope = { crypto: window.crypto, postMessage: (m) => report(0, m) };
    solver(scope);
    scope.onmessage({ data: { token: d.token, difficulty, start: 0, step: 1, yieldToPage: true } });
  }

  function run() {
    $('start').hidden = true;
    show('status', 'Working…');
    started = performance.now();
    const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 4));
    try {
      const url = URL.createObjectURL(new Blob(['(' + solver + ')(self);'], { type: 'text/javascript' }));
      for (let i = 0; i < n; i++) {
        const w = new Worker(url);
        w.onmessage = (e) => report(i, e.data);
        w.onerror = solveOnPage;
        w.postMessage({ token: d.token, difficulty, start: i, step: n });
        workers.push(w);
      }
      // A worker that never answers (blocked without an error event) must not stall the page.
      watchdog = setTimeout(solveOnPage, 3000);
    } catch (e) {
      solveOnPage();
    }
  }

  function fail(reason, remedy) {
    show('status', 'The check did not go through: ' + reason + '.' + (remedy ? ' What to do: ' + remedy + '.' : ''));
    show('reload');
  }

  function submit(counter, attempts, solveMs) {
    const body = new URLSearchParams({
      token: d.token,
      counter: String(counter),
      return_to: d.returnTo,
      clock_offset_ms: String(offsetMs),
      attempts: String(attempts),
      solve_ms: String(solveMs),
    });
    fetch(d.submit, { method: 'POST', body, credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then((r) => r.json().catch(() => ({})).then((j) => ({ ok: r.ok, j })))
      .then(({ ok, j }) => {
        if (!ok) return fail(j.detail || 'the site refused the answer', j.remedies && j.remedies[0]);
        // The site has just set its cookies; the marker is readable here. Missing: the browser
        // dropped them, and going back would only bring this page again.
        const kept = document.cookie.split(';').some((c) => c.trim().startsWith(d.marker + '='));
        if (!kept) {
          show('status', 'You passed the check, but your browser did not keep the cookie that remembers it: ' +
            'cookies are blocked for ' + d.site + ', or an extension removes them. Allow cookies for ' + d.site +
            ' (in the site settings behind the icon next to the address), then continue.');
          show('continue');
          return;
        }
        if (clockOff) {
          // Leaving at once would hide the clock message; let the person read it first.
          show('status', 'Done. Read the note about your clock, then continue.');
          show('continue');
          return;
        }
        show('status', 'Done. Taking you back…');
        location.replace(d.returnTo);
      })
      .catch(() => fail('the answer could not be sent (the connection failed)', 'check your connection and reload'));
  }

  $('start').addEventListener('click', run);
  $('reload').addEventListener('click', () => location.reload());
  // After a loop hint the page waits for a click: solving again would only loop again.
  if (d.wait) show('start');
  else run();
})();
