/*! payvault.js v1: hosted payment fields for merchant pages. No dependencies, no build step.
 *
 *   <script src="https://VAULT/hosted/v1/payvault.js"></script>
 *   const fields = Payvault.mount('#card', { paysafe: { keyId, secret } });   // or fortis: {...}
 *   const { token, card } = await fields.tokenize();                          // card: brand, lastFour, expMonth, expYear
 *
 * The card or bank-account inputs live in an iframe on payvault's origin; this page never sees
 * the account data. Messages from the iframe are accepted only from payvault's origin and only
 * from the mounted frame, and messages to it are addressed to payvault's origin only.
 */
(() => {
  'use strict';
  if (window.Payvault) return;

  const script = document.currentScript;
  const scriptOrigin = script && script.src ? new URL(script.src, window.location.href).origin : '';

  /** PayvaultError is how tokenize and ready fail: code, message and the names of refused fields. */
  class PayvaultError extends Error {
    constructor(code, message, fields) {
      super(message);
      this.name = 'PayvaultError';
      this.code = code;
      this.fields = Array.isArray(fields) ? fields.slice() : [];
    }
  }

  const titles = {
    card: 'Secure card payment form',
    ach: 'Secure US bank account form',
    eft: 'Secure Canadian bank account form',
  };

  /**
   * Fields is one mounted form.
   *
   * Options:
   *   kind        'card' (default), 'ach' or 'eft' (bank forms need Paysafe mode)
   *   paysafe     { keyId, secret }: the merchant's single-use key, a public browser credential
   *               that can create single-use tokens and nothing else
   *   fortis      { locationApiKey, timestamp, hashKey }: computed by the merchant's server,
   *               hashKey = hex(HMAC-SHA256(ticket_hash_key, locationApiKey + timestamp))
   *   holderName  true to ask for the name on the card (always asked for bank accounts)
   *   postalCode  true to ask for the billing ZIP or postal code
   *   country     the billing country of postalCode ('US' by default)
   *   style       { fontFamily, fontSize, color, errorColor, borderColor, accentColor, background, radius }
   *   title       the iframe's accessible title
   *   origin      payvault's origin, when payvault.js is not loaded from payvault itself
   *   readyTimeout  milliseconds to wait for the form (15000)
   *   onReady(), onChange(state), onSubmit()   state: { brand, complete, empty, invalid }
   */
  class Fields {
    constructor(target, o) {
      const host = typeof target === 'string' ? find(target) : target;
      if (!host || typeof host.appendChild !== 'function') throw new PayvaultError('config', 'payvault: the mount target was not found');
      const kind = o.kind || 'card';
      if (!Object.prototype.hasOwnProperty.call(titles, kind)) throw new PayvaultError('config', 'payvault: kind must be card, ach or eft');
      this.origin = o.origin ? originOf(o.origin) : scriptOrigin;
      if (!/^https?:\/\//.test(this.origin)) throw new PayvaultError('config', 'payvault: cannot tell payvault\'s origin; pass origin, such as \'https://vault.example.com\'');

      const q = new URLSearchParams();
      if (o.paysafe && !o.fortis) {
        if (!o.paysafe.keyId || !o.paysafe.secret) throw new PayvaultError('config', 'payvault: paysafe needs keyId and secret');
        q.set('key', o.paysafe.keyId);
        this._credentials = { secret: String(o.paysafe.secret) };
        this._fortis = false;
      } else if (o.fortis && !o.paysafe) {
        if (kind !== 'card') throw new PayvaultError('config', 'payvault: Fortis mode makes card tickets only');
        if (!o.fortis.locationApiKey) throw new PayvaultError('config', 'payvault: fortis needs locationApiKey');
        q.set('location-api-key', o.fortis.locationApiKey);
        this._credentials = fortisCredentials(o.fortis);
        this._fortis = true;
      } else {
        throw new PayvaultError('config', 'payvault: pass either paysafe or fortis credentials');
      }
      q.set('origin', window.location.origin);
      const extra = [];
      if (o.holderName) extra.push('name');
      if (o.postalCode) extra.push('postal');
      if (extra.length) q.set('fields', extra.join(','));
      if (o.country) q.set('country', String(o.country));

      this.kind = kind;
      this.state = { brand: '', complete: false, empty: true, invalid: [] };
      this._style = o.style && typeof o.style === 'object' ? o.style : null;
      this._onReady = o.onReady;
      this._onChange = o.onChange;
      this._onSubmit = o.onSubmit;
      this._pending = new Map();
      this._seq = 0;
      this._isReady = false;

      const frame = document.createElement('iframe');
      frame.src = `${this.origin}/hosted/v1/fields/${kind}?${q}`;
      frame.title = o.title || titles[kind];
      frame.setAttribute('referrerpolicy', 'no-referrer');
      frame.setAttribute('scrolling', 'no');
      frame.className = 'payvault-fields';
      frame.style.border = '0';
      frame.style.width = '100%';
      frame.style.height = kind === 'card' ? '190px' : '230px';
      frame.style.display = 'block';
      this.iframe = frame;

      this.ready = new Promise((resolve, reject) => {
        this._resolveReady = resolve;
        this._rejectReady = reject;
        this._timer = setTimeout(() => {
          reject(new PayvaultError('unavailable', 'payvault: the payment form did not load (is this origin allowed?)'));
        }, o.readyTimeout || 15000);
      });
      this.ready.catch(() => {});
      this._listener = (ev) => this._receive(ev);
      window.addEventListener('message', this._listener);
      host.appendChild(frame);
    }

    _receive(ev) {
      if (ev.origin !== this.origin || !this.iframe.contentWindow || ev.source !== this.iframe.contentWindow) return;
      const m = ev.data;
      if (!m || typeof m !== 'object') return;
      switch (m.type) {
        case 'payvault:ready':
          this._post({ type: 'payvault:config', credentials: this._credentials, style: this._style });
          if (!this._isReady) {
            this._isReady = true;
            this.iframe.setAttribute('data-payvault-ready', '');
            clearTimeout(this._timer);
            this._resolveReady();
            if (typeof this._onReady === 'function') this._onReady();
          }
          break;
        case 'payvault:refused':
          // payvault refused the frame's configuration: a key id it does not know (a wrong
          // keyId or locationApiKey, or a server key id where the single-use key id belongs),
          // or a country it does not know.
          if (!this._isReady && m.code === 'config') {
            clearTimeout(this._timer);
            this._rejectReady(new PayvaultError('config', 'payvault: the key id is not valid (paysafe.keyId must be a single-use key id, fortis.locationApiKey a location api key), or country is not an ISO 3166 alpha-2 code'));
          }
          break;
        case 'payvault:resize':
          if (typeof m.height === 'number' && m.height > 0 && m.height < 4000) this.iframe.style.height = `${Math.ceil(m.height)}px`;
          break;
        case 'payvault:change':
          if (m.state && typeof m.state === 'object') {
            this.state = {
              brand: String(m.state.brand || ''), complete: Boolean(m.state.complete),
              empty: Boolean(m.state.empty), invalid: Array.isArray(m.state.invalid) ? m.state.invalid.map(String) : [],
            };
            if (typeof this._onChange === 'function') this._onChange(this.state);
          }
          break;
        case 'payvault:submit':
          if (typeof this._onSubmit === 'function') this._onSubmit();
          break;
        case 'payvault:result': {
          const p = this._pending.get(m.id);
          if (!p) return;
          this._pending.delete(m.id);
          // The form took a fresh credential unless it refused it as unusable (config).
          if (p.fresh && (m.ok || !m.error || m.error.code !== 'config')) this._credentials = p.fresh;
          if (m.ok && m.result && typeof m.result.token === 'string') p.resolve(m.result);
          else {
            const e = m.error || {};
            p.reject(new PayvaultError(String(e.code || 'error'), String(e.message || 'The payment form failed.'), e.fields));
          }
          break;
        }
        default:
      }
    }

    _post(msg) {
      if (this.iframe.contentWindow) this.iframe.contentWindow.postMessage(msg, this.origin);
    }

    /**
     * tokenize checks the form and, when it is valid, has the iframe create a single-use token
     * (Paysafe) or card ticket (Fortis). It resolves to { token, card: { brand, lastFour,
     * expMonth, expYear } } or { token, bankAccount: { lastFour, accountType } }, and rejects
     * with a PayvaultError (code 'invalid' with the fields to fix, or 'unauthorized', 'forbidden',
     * 'rate_limited', 'network', 'server'; 'unavailable' when the frame never loaded; 'busy'
     * while another tokenize runs, 'config' when the fields have no credentials or payvault
     * does not know the key id or country, 'destroyed'
     * after destroy). Fortis credentials may be refreshed by passing them here (a Paysafe form
     * rejects them with 'config', and so does a Fortis form when they are malformed; it then
     * keeps the credentials it had).
     */
    async tokenize(fortis) {
      await this.ready;
      if (this._destroyed) throw destroyedError();
      let fresh = null;
      if (fortis) {
        // A Paysafe form keeps its single-use key: Fortis credentials there are the page's mistake.
        if (!this._fortis) throw new PayvaultError('config', 'payvault: tokenize takes Fortis credentials only on a Fortis form');
        fresh = fortisCredentials(fortis);
      }
      const id = ++this._seq;
      return new Promise((resolve, reject) => {
        this._pending.set(id, { resolve, reject, fresh });
        this._post({ type: 'payvault:tokenize', id, credentials: fresh || this._credentials });
      });
    }

    /** focus moves the focus into the form (to its first field needing attention). */
    focus() { this._post({ type: 'payvault:focus' }); }

    /** clear empties the form. */
    clear() { this._post({ type: 'payvault:clear' }); }

    /**
     * destroy removes the iframe. It rejects pending requests, a ready that had not resolved
     * and every later tokenize with code 'destroyed'.
     */
    destroy() {
      this._destroyed = true;
      window.removeEventListener('message', this._listener);
      clearTimeout(this._timer);
      this._rejectReady(destroyedError());
      for (const p of this._pending.values()) p.reject(destroyedError());
      this._pending.clear();
      this.iframe.remove();
    }
  }

  // find returns the element a selector names, or null when there is none or the selector
  // does not parse.
  function find(selector) {
    try {
      return document.querySelector(selector);
    } catch (_) {
      return null;
    }
  }

  // originOf returns the origin of a URL, or '' when it is not one.
  function originOf(url) {
    try {
      return new URL(url).origin;
    } catch (_) {
      return '';
    }
  }

  function destroyedError() {
    return new PayvaultError('destroyed', 'payvault: the form was removed');
  }

  function fortisCredentials(f) {
    if (!f || !f.timestamp || !f.hashKey) throw new PayvaultError('config', 'payvault: fortis needs timestamp and hashKey');
    return { timestamp: String(f.timestamp), hashKey: String(f.hashKey) };
  }

  /** mount adds a form to target (an element or a selector) and returns its Fields. */
  function mount(target, options) {
    return new Fields(target, options || {});
  }

  window.Payvault = Object.freeze({ mount, PayvaultError, version: '1' });
})();
