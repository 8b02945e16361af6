// fields.js: the script of payvault's hosted payment-field page. It runs on payvault's origin,
// inside an iframe that a merchant page mounted with payvault.js. The account data typed here
// leaves this document only in the token request to payvault's own API; the merchant page
// gets the token and masked data (brand, last four, expiry) through postMessage, sent to the
// one origin the page was served for. No third-party code, no build step.
(() => {
  'use strict';

  // A key id payvault does not know, or a country it does not know, gets a page with no
  // form: tell the page that framed it that its configuration is wrong (and nothing else), so
  // that its ready rejects at once.
  const refused = document.getElementById('pv-refused');
  if (refused) {
    if (window.parent !== window) window.parent.postMessage({ type: 'payvault:refused', code: 'config' }, refused.dataset.parentOrigin);
    return;
  }
  const form = document.getElementById('pv-form');
  if (!form) return;
  const cfg = form.dataset;
  const parentOrigin = cfg.parentOrigin;
  const kind = cfg.kind;
  const mode = cfg.mode;
  const key = cfg.key;
  const country = cfg.country || 'US';
  const brands = JSON.parse(cfg.brands || '[]');
  const framed = window.parent !== window;

  const $ = (id) => document.getElementById(id);
  const inputs = {
    number: $('pv-number'), expiry: $('pv-expiry'), cvv: $('pv-cvv'),
    account: $('pv-account'), routing: $('pv-routing'), type: $('pv-type'),
    transit: $('pv-transit'), institution: $('pv-institution'),
    name: $('pv-name'), postal: $('pv-postal'),
  };
  const names = Object.keys(inputs).filter((n) => inputs[n]);
  const touched = new Set();
  let credentials = null;
  let busy = false;

  // ---- messaging: only with the window that framed us, only on its checked origin ----

  function send(msg) {
    if (framed) window.parent.postMessage(msg, parentOrigin);
  }

  window.addEventListener('message', (ev) => {
    if (!framed || ev.source !== window.parent || ev.origin !== parentOrigin) return;
    const m = ev.data;
    if (!m || typeof m !== 'object' || typeof m.type !== 'string') return;
    switch (m.type) {
      case 'payvault:config':
        setCredentials(m.credentials);
        applyStyle(m.style);
        break;
      case 'payvault:tokenize':
        // A fresh credential that is not usable refuses this tokenize; the form keeps the one
        // it had.
        if (m.credentials && !setCredentials(m.credentials)) {
          send({ type: 'payvault:result', id: m.id, ok: false, error: { code: 'config', message: 'The payment fields got an unusable credential.', fields: [] } });
          break;
        }
        tokenize(m.id);
        break;
      case 'payvault:focus':
        focusFirst();
        break;
      case 'payvault:clear':
        clear();
        break;
      default:
    }
  });

  // setCredentials takes the page's credentials when they are usable, and reports whether
  // they were.
  function setCredentials(c) {
    if (!c || typeof c !== 'object') return false;
    if (mode === 'paysafe' && typeof c.secret === 'string' && c.secret.length <= 200) {
      credentials = { secret: c.secret };
    } else if (mode === 'fortis' && /^\d{1,12}$/.test(String(c.timestamp)) &&
      typeof c.hashKey === 'string' && /^[0-9a-fA-F]{64}$/.test(c.hashKey)) {
      credentials = { timestamp: String(c.timestamp), hashKey: c.hashKey };
    } else {
      return false;
    }
    return true;
  }

  // The merchant may tune a few looks; values are checked and set as CSS custom properties.
  const styleVars = {
    fontFamily: '--pv-font-family', fontSize: '--pv-font-size', color: '--pv-color',
    errorColor: '--pv-error-color', borderColor: '--pv-border-color', accentColor: '--pv-accent',
    background: '--pv-background', radius: '--pv-radius',
  };
  function applyStyle(s) {
    if (!s || typeof s !== 'object') return;
    for (const [k, v] of Object.entries(s)) {
      if (styleVars[k] && typeof v === 'string' && /^[\w\s#%.,()'"-]{1,80}$/.test(v) && !/url\s*\(/i.test(v)) {
        document.documentElement.style.setProperty(styleVars[k], v);
      }
    }
  }

  // ---- card rules: the server's brand table, Luhn, expiry ----

  const digits = (s) => String(s).replace(/\D/g, '');
  const value = (n) => (inputs[n] ? inputs[n].value.trim() : '');

  function brandOf(d) {
    for (const b of brands) {
      for (const [lo, hi, n] of b.prefixes) {
        if (d.length >= n) {
          const v = Number(d.slice(0, n));
          if (v >= lo && v <= hi) return b;
        }
      }
    }
    return null;
  }

  function luhn(d) {
    let sum = 0;
    let dbl = false;
    for (let i = d.length - 1; i >= 0; i--) {
      let n = d.charCodeAt(i) - 48;
      if (dbl) {
        n *= 2;
        if (n > 9) n -= 9;
      }
      sum += n;
      dbl = !dbl;
    }
    return sum % 10 === 0;
  }

  function parseExpiry(s) {
    const m = /^(\d{1,2})\s*\/?\s*(\d{2}|\d{4})$/.exec(s.replace(/\s+/g, ''));
    if (!m) return null;
    const month = Number(m[1]);
    let year = Number(m[2]);
    if (m[2].length === 2) year += 2000;
    if (month < 1 || month > 12) return null;
    return { month, year };
  }

  const checks = {
    number() {
      const d = digits(value('number'));
      if (!d) return 'Enter the card number.';
      if (/[^\d\s-]/.test(value('number'))) return 'The card number has digits only.';
      const b = brandOf(d);
      if (!b) return d.length < 4 ? 'The card number is incomplete.' : 'This card type is not accepted.';
      if (!b.lengths.includes(d.length)) {
        return d.length < Math.max(...b.lengths) ? 'The card number is incomplete.' : 'The card number is too long.';
      }
      if (!luhn(d)) return 'The card number is not valid.';
      return '';
    },
    expiry() {
      const v = value('expiry');
      if (!v) return 'Enter the expiry date.';
      const e = parseExpiry(v);
      if (!e) return 'Enter the expiry as MM/YY.';
      const now = new Date();
      const y = now.getFullYear();
      const mo = now.getMonth() + 1;
      if (e.year < y || (e.year === y && e.month < mo)) return 'The card has expired.';
      if (e.year > y + 20) return 'The expiry year is too far ahead.';
      return '';
    },
    cvv() {
      const v = value('cvv');
      const b = brandOf(digits(value('number')));
      const want = b ? b.cvv : 0;
      const hint = want === 4 ? 'Enter the 4-digit security code.' : want === 3 ? 'Enter the 3-digit security code.' : 'Enter the 3- or 4-digit security code.';
      if (!v) return hint;
      if (!/^\d+$/.test(v)) return 'The security code has digits only.';
      if (want ? v.length !== want : v.length < 3 || v.length > 4) return hint;
      return '';
    },
    name() {
      const v = value('name');
      if (!v) return kind === 'card' ? 'Enter the name on the card.' : 'Enter the account holder name.';
      return '';
    },
    postal() {
      const v = value('postal');
      if (country === 'US') return /^\d{5}(-?\d{4})?$/.test(v) ? '' : 'Enter a valid ZIP code.';
      return /^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$/.test(v) ? '' : 'Enter a valid postal code.';
    },
    account() {
      const v = value('account');
      const max = kind === 'ach' ? 17 : 12;
      if (!v) return 'Enter the account number.';
      if (!/^\d+$/.test(v)) return 'The account number has digits only.';
      if (v.length < 4 || v.length > max) return `The account number has 4 to ${max} digits.`;
      return '';
    },
    routing() {
      return /^\d{9}$/.test(value('routing')) ? '' : 'Enter the 9-digit routing number.';
    },
    type() {
      return value('type') ? '' : 'Choose the account type.';
    },
    transit() {
      return /^\d{5}$/.test(value('transit')) ? '' : 'Enter the 5-digit transit number.';
    },
    institution() {
      return /^\d{3}$/.test(value('institution')) ? '' : 'Enter the 3-digit institution number.';
    },
  };

  // ---- inline messages and accessibility state ----

  function show(n, msg) {
    const el = inputs[n];
    const err = $(`pv-${n}-error`);
    el.setAttribute('aria-invalid', msg ? 'true' : 'false');
    el.closest('.pv-field').classList.toggle('pv-invalid', Boolean(msg));
    if (err && err.textContent !== msg) err.textContent = msg;
  }

  function setFormError(msg) {
    const el = $('pv-form-error');
    if (el.textContent !== msg) el.textContent = msg;
  }

  function validateAll() {
    const bad = [];
    for (const n of names) {
      touched.add(n);
      const msg = checks[n]();
      show(n, msg);
      if (msg) bad.push(n);
    }
    return bad;
  }

  let lastState = '';
  function emitChange() {
    const b = inputs.number ? brandOf(digits(inputs.number.value)) : null;
    const invalid = names.filter((n) => inputs[n].getAttribute('aria-invalid') === 'true');
    const state = {
      brand: b ? b.brand : '',
      complete: names.every((n) => checks[n]() === ''),
      empty: names.every((n) => n === 'type' || !inputs[n].value),
      invalid,
    };
    const s = JSON.stringify(state);
    if (s !== lastState) {
      lastState = s;
      send({ type: 'payvault:change', state });
    }
  }

  // ---- formatting as you type ----

  function groupsFor(b) {
    if (b && b.brand === 'amex') return [4, 6, 5];
    if (b && b.brand === 'diners') return [4, 6, 4, 5];
    return [4, 4, 4, 4, 3];
  }

  function formatNumber(d) {
    d = d.slice(0, 19);
    const out = [];
    let i = 0;
    for (const g of groupsFor(brandOf(d))) {
      if (i >= d.length) break;
      out.push(d.slice(i, i + g));
      i += g;
    }
    return out.join(' ');
  }

  function formatExpiry(d, deleting) {
    d = d.slice(0, 6);
    if (d.length === 1 && d > '1') d = `0${d}`;
    if (d.length > 2 || (d.length === 2 && !deleting)) return `${d.slice(0, 2)}/${d.slice(2)}`;
    return d;
  }

  function reformat(el, fmt, deleting) {
    const caret = el.selectionStart === null ? el.value.length : el.selectionStart;
    const atEnd = caret === el.value.length;
    const before = digits(el.value.slice(0, caret)).length;
    const next = fmt(digits(el.value), deleting);
    if (next === el.value) return;
    el.value = next;
    if (document.activeElement !== el) return;
    let pos = next.length;
    if (!atEnd) {
      let seen = 0;
      pos = 0;
      while (pos < next.length && seen < before) {
        if (next[pos] >= '0' && next[pos] <= '9') seen++;
        pos++;
      }
    }
    el.setSelectionRange(pos, pos);
  }

  function showBrand() {
    if (!inputs.number) return;
    const b = brandOf(digits(inputs.number.value));
    const label = $('pv-number-brand');
    const text = b ? b.name : '';
    if (label.textContent !== text) label.textContent = text;
    form.dataset.brand = b ? b.brand : '';
    if (inputs.cvv) inputs.cvv.maxLength = b ? b.cvv : 4;
  }

  for (const n of names) {
    const el = inputs[n];
    el.addEventListener('input', (ev) => {
      const deleting = typeof ev.inputType === 'string' && ev.inputType.startsWith('delete');
      if (n === 'number') {
        reformat(el, formatNumber, deleting);
        showBrand();
        if (touched.has('cvv')) show('cvv', checks.cvv());
      } else if (n === 'expiry') {
        reformat(el, formatExpiry, deleting);
      } else if (['cvv', 'account', 'routing', 'transit', 'institution'].includes(n)) {
        const d = digits(el.value);
        if (d !== el.value) el.value = d;
      }
      if (touched.has(n)) show(n, checks[n]());
      setFormError('');
      emitChange();
    });
    el.addEventListener('blur', () => {
      if (!el.value && !touched.has(n)) return;
      touched.add(n);
      show(n, checks[n]());
      emitChange();
    });
  }

  form.addEventListener('submit', (ev) => ev.preventDefault());
  form.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && ev.target.tagName === 'INPUT') {
      ev.preventDefault();
      send({ type: 'payvault:submit' });
    }
  });

  function focusFirst() {
    const first = names.find((n) => inputs[n].getAttribute('aria-invalid') === 'true') || names[0];
    if (first) inputs[first].focus();
  }

  function clear() {
    for (const n of names) {
      if (n !== 'type') inputs[n].value = '';
      show(n, '');
    }
    touched.clear();
    setFormError('');
    showBrand();
    emitChange();
  }

  // ---- tokenization: the only network call, to payvault's own API ----

  async function tokenize(id) {
    const reply = (body) => send(Object.assign({ type: 'payvault:result', id }, body));
    if (busy) {
      reply({ ok: false, error: { code: 'busy', message: 'A request is already running.', fields: [] } });
      return;
    }
    const bad = validateAll();
    emitChange();
    if (bad.length) {
      inputs[bad[0]].focus();
      reply({ ok: false, error: { code: 'invalid', message: 'Check the highlighted fields.', fields: bad } });
      return;
    }
    if (!credentials) {
      reply({ ok: false, error: { code: 'config', message: 'The payment fields have no credentials.', fields: [] } });
      return;
    }
    busy = true;
    form.setAttribute('aria-busy', 'true');
    setFormError('');
    try {
      reply({ ok: true, result: await request() });
    } catch (e) {
      const err = e && e.payvault ? e.payvault : { code: 'network', message: 'The payment service could not be reached.', fields: [] };
      for (const n of err.fields) {
        touched.add(n);
        show(n, refusedText[n] || 'This value was refused.');
      }
      setFormError(err.message);
      reply({ ok: false, error: err });
    } finally {
      busy = false;
      form.removeAttribute('aria-busy');
    }
  }

  const refusedText = {
    number: 'The card number was refused.', expiry: 'The expiry date was refused.', cvv: 'The security code was refused.',
    name: 'The name was refused.', postal: 'The postal code was refused.', account: 'The account number was refused.',
    routing: 'The routing number was refused.', type: 'The account type was refused.',
    transit: 'The transit number was refused.', institution: 'The institution number was refused.',
  };

  function billing() {
    return inputs.postal ? { country, zip: value('postal') } : undefined;
  }

  async function request() {
    if (mode === 'fortis') return fortisTicket();
    if (kind === 'card') return paysafeCard();
    return paysafeBank();
  }

  async function paysafeCard() {
    const pan = digits(value('number'));
    const exp = parseExpiry(value('expiry'));
    const card = { cardNum: pan, cardExpiry: { month: exp.month, year: exp.year }, cvv: value('cvv') };
    if (inputs.name) card.holderName = value('name');
    if (inputs.postal) card.billingAddress = billing();
    const b = brandOf(pan);
    const res = await post('/customervault/v1/singleusetokens', paysafeAuth(), { card });
    return {
      token: res.paymentToken,
      card: { brand: b ? b.brand : '', lastFour: res.card.lastDigits, expMonth: res.card.cardExpiry.month, expYear: res.card.cardExpiry.year },
    };
  }

  async function paysafeBank() {
    const acct = { accountHolderName: value('name'), accountNumber: value('account') };
    let path = '/customervault/v1/eftsingleusetokens';
    let member = 'eftBankAccount';
    if (kind === 'ach') {
      path = '/customervault/v1/achsingleusetokens';
      member = 'achBankAccount';
      acct.routingNumber = value('routing');
      acct.accountType = value('type');
    } else {
      acct.transitNumber = value('transit');
      acct.institutionId = value('institution');
    }
    const body = { [member]: acct };
    if (inputs.postal) body.billingAddress = billing();
    const res = await post(path, paysafeAuth(), body);
    const out = { lastFour: res[member].lastDigits };
    if (kind === 'ach') out.accountType = res[member].accountType;
    return { token: res.paymentToken, bankAccount: out };
  }

  function paysafeAuth() {
    return { Authorization: `Basic ${btoa(`${key}:${credentials.secret}`)}` };
  }

  async function fortisTicket() {
    const pan = digits(value('number'));
    const exp = parseExpiry(value('expiry'));
    const mmyy = String(exp.month).padStart(2, '0') + String(exp.year % 100).padStart(2, '0');
    const ticket = { account_number: pan, exp_date: mmyy, cvv: value('cvv') };
    if (inputs.name) ticket.account_holder_name = value('name');
    if (inputs.postal) ticket.billing_zip = value('postal');
    const b = brandOf(pan);
    const res = await post('/v2/cardtickets', {
      'location-api-key': key, timestamp: credentials.timestamp, 'hash-key': credentials.hashKey,
    }, { cardticket: ticket });
    const t = res.cardticket;
    return {
      token: t.id,
      card: { brand: b ? b.brand : '', lastFour: t.last_four, expMonth: Number(t.exp_date.slice(0, 2)), expYear: 2000 + Number(t.exp_date.slice(2)) },
    };
  }

  async function post(path, headers, body) {
    const res = await fetch(path, {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json', Accept: 'application/json' }, headers),
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      referrerPolicy: 'no-referrer',
    });
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (res.ok && data) return data;
    throw { payvault: refusal(res.status, data) };
  }

  // The wire names of each vendor's field errors, mapped to our inputs.
  const wireFields = [
    [/cardNum|account_number$/, 'number'], [/cardExpiry|exp_date/, 'expiry'], [/cvv/, 'cvv'],
    [/holderName|account_holder_name|accountHolderName/, 'name'], [/zip/, 'postal'],
    [/accountNumber/, 'account'], [/routingNumber/, 'routing'], [/accountType/, 'type'],
    [/transitNumber/, 'transit'], [/institutionId/, 'institution'],
  ];

  // refusal turns a refused token request into {code, message, fields}; it never repeats
  // what was sent.
  function refusal(status, data) {
    const wire = [];
    if (data && data.error && Array.isArray(data.error.fieldErrors)) {
      for (const fe of data.error.fieldErrors) wire.push(String(fe.field));
    }
    if (data && data.errors && typeof data.errors === 'object') wire.push(...Object.keys(data.errors));
    const fields = [];
    for (const w of wire) {
      const hit = wireFields.find(([re]) => re.test(w));
      if (hit && inputs[hit[1]] && !fields.includes(hit[1])) fields.push(hit[1]);
    }
    if (status === 401) return { code: 'unauthorized', message: 'The payment form could not sign in; reload the page.', fields: [] };
    if (status === 403) return { code: 'forbidden', message: 'This page may not use the payment form.', fields: [] };
    if (status === 400 || status === 422) return { code: 'invalid', message: 'Check the highlighted fields.', fields };
    if (status === 429) return { code: 'rate_limited', message: 'Too many attempts; wait a moment.', fields: [] };
    return { code: 'server', message: 'The payment service is unavailable; try again.', fields: [] };
  }

  // ---- start ----

  if (!framed) {
    for (const n of names) inputs[n].disabled = true;
    setFormError('These payment fields work only inside a checkout page.');
    return;
  }
  // The parent sizes the iframe to the form; the form, not the document, is measured, so that
  // the frame shrinks again when messages go away.
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(() => send({ type: 'payvault:resize', height: Math.ceil(form.getBoundingClientRect().bottom) + 2 }))
      .observe(form);
  }
  showBrand();
  send({ type: 'payvault:ready', kind, mode });
})();
