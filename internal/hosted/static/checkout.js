// checkout.js: the demo checkout page. It plays a merchant page: the card is typed into
// payvault's hosted fields (Fortis mode, with the browser credential its "server" computes),
// Pay turns it into a card ticket in the fields' iframe, and the page sends only the ticket and
// the amount to its server, which authorizes the payment.
(() => {
  'use strict';

  const form = document.getElementById('checkout');
  const amount = document.getElementById('amount');
  const amountError = document.getElementById('amount-error');
  const pay = document.getElementById('pay');
  const outcome = document.getElementById('outcome');
  const merchant = form.dataset.merchant;

  async function postJSON(path, body) {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const msg = data && data.error && data.error.message ? data.error.message : 'The request failed.';
      throw new Error(msg);
    }
    return data;
  }

  // The browser credential lives 15 minutes around its timestamp; the page refreshes it
  // after 10, and only then, so that a form the fields refuse makes no network call at all.
  let issued = 0;
  async function credentials() {
    const c = await postJSON('/demo/checkout/credentials', { merchant });
    issued = Date.now();
    return c;
  }

  function show(kind, lines) {
    outcome.className = `outcome ${kind}`;
    outcome.replaceChildren(...lines.map((text) => {
      const p = document.createElement('p');
      p.textContent = text;
      return p;
    }));
  }

  function checkAmount() {
    const ok = /^\d{1,9}(\.\d{1,2})?$/.test(amount.value.trim()) && Number(amount.value) > 0;
    amount.setAttribute('aria-invalid', ok ? 'false' : 'true');
    amountError.textContent = ok ? '' : 'Enter an amount such as 10.00.';
    return ok;
  }

  let fields;
  async function start() {
    const c = await credentials();
    fields = window.Payvault.mount('#card-fields', {
      fortis: { locationApiKey: c.locationApiKey, timestamp: c.timestamp, hashKey: c.hashKey },
      title: 'Card details',
      onSubmit: () => form.requestSubmit(),
    });
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    outcome.replaceChildren();
    outcome.className = 'outcome';
    if (!checkAmount() || !fields) return;
    pay.disabled = true;
    try {
      let result;
      try {
        let fresh;
        if (Date.now() - issued > 10 * 60 * 1000) {
          const c = await credentials();
          fresh = { timestamp: c.timestamp, hashKey: c.hashKey };
        }
        result = await fields.tokenize(fresh);
      } catch (e) {
        if (e && e.code === 'invalid') return; // the fields show what to fix
        throw e;
      }
      show('pending', ['Processing the payment…']); // a delayed amount takes up to 35 s
      const r = await postJSON('/demo/checkout/pay', { merchant, amount: amount.value.trim(), token: result.token });
      const card = r.card && r.card.lastFour ? `${r.card.brand || 'Card'} ending ${r.card.lastFour}` : '';
      if (r.approved) {
        show('approved', ['Payment approved', `Auth id: ${r.authId}`, `Amount: ${r.amount} USD`, card].filter(Boolean));
        fields.clear();
      } else {
        show('declined', ['Payment declined', r.message, `Code: ${r.code}`, `Auth id: ${r.authId}`]);
      }
    } catch (e) {
      show('declined', [e && e.message ? e.message : 'The payment failed.']);
    } finally {
      pay.disabled = false;
    }
  });

  amount.addEventListener('blur', checkAmount);
  start().catch((e) => show('declined', [`The payment form could not start: ${e.message}`]));
})();
