-- +goose Up
-- Times are Unix milliseconds (0 = unset). Strings are '' when unset. Sealed columns hold
-- AEAD ciphertexts whose data key is dek_id; their associated data is merchant|record|field.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE keysets (
    name       TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    blob       BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE merchants (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    live                BOOLEAN NOT NULL DEFAULT FALSE,
    default_location_id TEXT NOT NULL DEFAULT '',
    allowed_origins     TEXT NOT NULL DEFAULT '[]',
    processor           TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL
);

CREATE TABLE locations (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants(id),
    name              TEXT NOT NULL,
    account_number    TEXT NOT NULL UNIQUE,
    currency          TEXT NOT NULL DEFAULT 'USD',
    api_key           TEXT NOT NULL UNIQUE,
    api_id            TEXT NOT NULL DEFAULT '',
    dek_id            BIGINT NOT NULL DEFAULT 0,
    ticket_hash_key   BYTEA,
    parent_id         TEXT NOT NULL DEFAULT '',
    address1          TEXT NOT NULL DEFAULT '',
    address2          TEXT NOT NULL DEFAULT '',
    city              TEXT NOT NULL DEFAULT '',
    state             TEXT NOT NULL DEFAULT '',
    zip_code          TEXT NOT NULL DEFAULT '',
    office_phone      TEXT NOT NULL DEFAULT '',
    office_ext_phone  TEXT NOT NULL DEFAULT '',
    fax               TEXT NOT NULL DEFAULT '',
    tz                TEXT NOT NULL DEFAULT '',
    default_cc        TEXT NOT NULL DEFAULT '',
    default_ach       TEXT NOT NULL DEFAULT '',
    email_reply_to    TEXT NOT NULL DEFAULT '',
    c1                TEXT NOT NULL DEFAULT '',
    c2                TEXT NOT NULL DEFAULT '',
    c3                TEXT NOT NULL DEFAULT '',
    allowed_origins   TEXT NOT NULL DEFAULT '[]',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX locations_merchant ON locations (merchant_id, id);

CREATE TABLE product_transactions (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants(id),
    location_id       TEXT NOT NULL REFERENCES locations(id),
    payment_method    TEXT NOT NULL,
    processor         TEXT NOT NULL DEFAULT '',
    title             TEXT NOT NULL DEFAULT '',
    industry_type     TEXT NOT NULL DEFAULT 'ecommerce',
    run_avs_on_create BOOLEAN NOT NULL DEFAULT FALSE,
    auto_decline_cvv  BIGINT NOT NULL DEFAULT 0,
    vt_require_zip    BOOLEAN NOT NULL DEFAULT FALSE,
    vt_require_street BOOLEAN NOT NULL DEFAULT FALSE,
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX product_transactions_location ON product_transactions (merchant_id, location_id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    kind        TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE developers (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    username            TEXT NOT NULL,
    email               TEXT NOT NULL DEFAULT '',
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    key_hash            BYTEA NOT NULL,
    status              BIGINT NOT NULL DEFAULT 1,
    user_type_id        BIGINT NOT NULL DEFAULT 200,
    locale              TEXT NOT NULL DEFAULT 'en-US',
    tz                  TEXT NOT NULL DEFAULT 'America/New_York',
    primary_location_id TEXT NOT NULL,
    location_ids        TEXT NOT NULL DEFAULT '[]',
    contact_id          TEXT NOT NULL DEFAULT '',
    domain_id           TEXT NOT NULL DEFAULT '',
    created_user_id     TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX users_merchant ON users (merchant_id, id);

CREATE TABLE profiles (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants(id),
    location_id          TEXT NOT NULL,
    token                TEXT NOT NULL UNIQUE,
    status               TEXT NOT NULL DEFAULT 'ACTIVE',
    merchant_customer_id TEXT NOT NULL DEFAULT '',
    locale               TEXT NOT NULL DEFAULT '',
    first_name           TEXT NOT NULL DEFAULT '',
    middle_name          TEXT NOT NULL DEFAULT '',
    last_name            TEXT NOT NULL DEFAULT '',
    dob_year             BIGINT NOT NULL DEFAULT 0,
    dob_month            BIGINT NOT NULL DEFAULT 0,
    dob_day              BIGINT NOT NULL DEFAULT 0,
    ip                   TEXT NOT NULL DEFAULT '',
    gender               TEXT NOT NULL DEFAULT '',
    nationality          TEXT NOT NULL DEFAULT '',
    email                TEXT NOT NULL DEFAULT '',
    phone                TEXT NOT NULL DEFAULT '',
    cell_phone           TEXT NOT NULL DEFAULT '',
    contact_api_id       TEXT NOT NULL DEFAULT '',
    company_name         TEXT NOT NULL DEFAULT '',
    account_number       TEXT NOT NULL DEFAULT '',
    address              TEXT NOT NULL DEFAULT '',
    city                 TEXT NOT NULL DEFAULT '',
    state                TEXT NOT NULL DEFAULT '',
    zip                  TEXT NOT NULL DEFAULT '',
    office_phone         TEXT NOT NULL DEFAULT '',
    office_ext_phone     TEXT NOT NULL DEFAULT '',
    contact_balance      TEXT NOT NULL DEFAULT '',
    email_trx_receipt    BOOLEAN NOT NULL DEFAULT FALSE,
    header_message       TEXT NOT NULL DEFAULT '',
    header_message_type  BIGINT NOT NULL DEFAULT 0,
    c1                   TEXT NOT NULL DEFAULT '',
    c2                   TEXT NOT NULL DEFAULT '',
    c3                   TEXT NOT NULL DEFAULT '',
    created_user_id      TEXT NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL DEFAULT 0,
    deleted_at           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX profiles_merchant ON profiles (merchant_id, id);
CREATE UNIQUE INDEX profiles_mcid ON profiles (merchant_id, merchant_customer_id)
    WHERE merchant_customer_id <> '' AND deleted_at = 0;
CREATE UNIQUE INDEX profiles_contact_api_id ON profiles (location_id, contact_api_id)
    WHERE contact_api_id <> '' AND deleted_at = 0;

CREATE TABLE addresses (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL,
    profile_id       TEXT NOT NULL REFERENCES profiles(id),
    nick_name        TEXT NOT NULL DEFAULT '',
    street           TEXT NOT NULL DEFAULT '',
    street2          TEXT NOT NULL DEFAULT '',
    city             TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL DEFAULT '',
    country          TEXT NOT NULL DEFAULT '',
    zip              TEXT NOT NULL DEFAULT '',
    recipient_name   TEXT NOT NULL DEFAULT '',
    phone            TEXT NOT NULL DEFAULT '',
    default_shipping BOOLEAN NOT NULL DEFAULT FALSE,
    status           TEXT NOT NULL DEFAULT 'ACTIVE',
    created_at       BIGINT NOT NULL
);
CREATE INDEX addresses_profile ON addresses (profile_id, id);

CREATE TABLE instruments (
    id                       TEXT PRIMARY KEY,
    merchant_id              TEXT NOT NULL REFERENCES merchants(id),
    location_id              TEXT NOT NULL,
    profile_id               TEXT NOT NULL DEFAULT '',
    token                    TEXT NOT NULL UNIQUE,
    kind                     TEXT NOT NULL,
    status                   TEXT NOT NULL DEFAULT 'ACTIVE',
    dek_id                   BIGINT NOT NULL DEFAULT 0,
    number_sealed            BYTEA,
    ssn4_sealed              BYTEA,
    dl_number_sealed         BYTEA,
    fingerprint              TEXT NOT NULL DEFAULT '',
    bin                      TEXT NOT NULL DEFAULT '',
    last_four                TEXT NOT NULL DEFAULT '',
    pan_length               BIGINT NOT NULL DEFAULT 0,
    brand                    TEXT NOT NULL DEFAULT '',
    category                 TEXT NOT NULL DEFAULT '',
    exp_month                BIGINT NOT NULL DEFAULT 0,
    exp_year                 BIGINT NOT NULL DEFAULT 0,
    holder_name              TEXT NOT NULL DEFAULT '',
    stored_credential_status TEXT NOT NULL DEFAULT '',
    default_card             BOOLEAN NOT NULL DEFAULT FALSE,
    routing_number           TEXT NOT NULL DEFAULT '',
    account_type             TEXT NOT NULL DEFAULT '',
    sort_code                TEXT NOT NULL DEFAULT '',
    transit_number           TEXT NOT NULL DEFAULT '',
    institution_id           TEXT NOT NULL DEFAULT '',
    iban_masked              TEXT NOT NULL DEFAULT '',
    bic                      TEXT NOT NULL DEFAULT '',
    is_company               BOOLEAN NOT NULL DEFAULT FALSE,
    ach_sec_code             TEXT NOT NULL DEFAULT '',
    nick_name                TEXT NOT NULL DEFAULT '',
    merchant_ref_num         TEXT NOT NULL DEFAULT '',
    billing_address_id       TEXT NOT NULL DEFAULT '',
    title                    TEXT NOT NULL DEFAULT '',
    api_id                   TEXT NOT NULL DEFAULT '',
    billing_street           TEXT NOT NULL DEFAULT '',
    billing_city             TEXT NOT NULL DEFAULT '',
    billing_state            TEXT NOT NULL DEFAULT '',
    billing_zip              TEXT NOT NULL DEFAULT '',
    billing_phone            TEXT NOT NULL DEFAULT '',
    customer_id              TEXT NOT NULL DEFAULT '',
    dl_state                 TEXT NOT NULL DEFAULT '',
    dob_year                 TEXT NOT NULL DEFAULT '',
    c1                       TEXT NOT NULL DEFAULT '',
    c2                       TEXT NOT NULL DEFAULT '',
    c3                       TEXT NOT NULL DEFAULT '',
    terms_agree              BIGINT NOT NULL DEFAULT 0,
    terms_agree_ip           TEXT NOT NULL DEFAULT '',
    created_user_id          TEXT NOT NULL DEFAULT '',
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    deleted_at               BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX instruments_merchant ON instruments (merchant_id, id);
CREATE INDEX instruments_profile ON instruments (profile_id, kind) WHERE profile_id <> '';
CREATE INDEX instruments_fingerprint ON instruments (profile_id, fingerprint) WHERE fingerprint <> '';
CREATE INDEX instruments_dek ON instruments (dek_id);
CREATE UNIQUE INDEX instruments_api_id ON instruments (location_id, api_id)
    WHERE api_id <> '' AND deleted_at = 0;

CREATE TABLE mandates (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    profile_id         TEXT NOT NULL,
    instrument_id      TEXT NOT NULL REFERENCES instruments(id),
    token              TEXT NOT NULL UNIQUE,
    reference          TEXT NOT NULL,
    status             TEXT NOT NULL,
    status_changed_at  BIGINT NOT NULL,
    status_reason_code TEXT NOT NULL DEFAULT '',
    status_reason      TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL
);
CREATE INDEX mandates_instrument ON mandates (instrument_id, id);
CREATE INDEX mandates_profile ON mandates (profile_id);

CREATE TABLE onetime_tokens (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    token       TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    meta        TEXT NOT NULL DEFAULT '{}',
    dek_id      BIGINT NOT NULL DEFAULT 0,
    number_sealed BYTEA,
    cvv_sealed  BYTEA,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX onetime_tokens_expiry ON onetime_tokens (expires_at);

CREATE TABLE transactions (
    id                     TEXT PRIMARY KEY,
    merchant_id            TEXT NOT NULL,
    location_id            TEXT NOT NULL,
    account_number         TEXT NOT NULL,
    api                    TEXT NOT NULL,
    type                   TEXT NOT NULL,
    status                 TEXT NOT NULL,
    parent_id              TEXT NOT NULL DEFAULT '',
    merchant_ref_num       TEXT NOT NULL DEFAULT '',
    api_id                 TEXT NOT NULL DEFAULT '',
    order_num              TEXT NOT NULL DEFAULT '',
    amount                 BIGINT NOT NULL DEFAULT 0,
    currency               TEXT NOT NULL DEFAULT 'USD',
    available              BIGINT NOT NULL DEFAULT 0,
    payment_method         TEXT NOT NULL DEFAULT 'cc',
    instrument_id          TEXT NOT NULL DEFAULT '',
    profile_id             TEXT NOT NULL DEFAULT '',
    product_transaction_id TEXT NOT NULL DEFAULT '',
    created_user_id        TEXT NOT NULL DEFAULT '',
    brand                  TEXT NOT NULL DEFAULT '',
    bin                    TEXT NOT NULL DEFAULT '',
    last_four              TEXT NOT NULL DEFAULT '',
    pan_length             BIGINT NOT NULL DEFAULT 0,
    exp_month              BIGINT NOT NULL DEFAULT 0,
    exp_year               BIGINT NOT NULL DEFAULT 0,
    holder_name            TEXT NOT NULL DEFAULT '',
    routing_number         TEXT NOT NULL DEFAULT '',
    account_type           TEXT NOT NULL DEFAULT '',
    dek_id                 BIGINT NOT NULL DEFAULT 0,
    number_sealed          BYTEA,
    auth_code              TEXT NOT NULL DEFAULT '',
    avs_result             TEXT NOT NULL DEFAULT '',
    cvv_result             TEXT NOT NULL DEFAULT '',
    error_code             TEXT NOT NULL DEFAULT '',
    reason_code            TEXT NOT NULL DEFAULT '',
    settle_with_auth       BOOLEAN NOT NULL DEFAULT FALSE,
    request                TEXT NOT NULL DEFAULT '{}',
    result                 TEXT NOT NULL DEFAULT '{}',
    txn_at                 BIGINT NOT NULL,
    completes_at           BIGINT NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX transactions_merchant ON transactions (merchant_id, id);
CREATE INDEX transactions_ref ON transactions (account_number, type, merchant_ref_num);
CREATE INDEX transactions_parent ON transactions (parent_id) WHERE parent_id <> '';
CREATE INDEX transactions_received ON transactions (status) WHERE status = 'RECEIVED';
CREATE UNIQUE INDEX transactions_api_id ON transactions (location_id, api_id) WHERE api_id <> '';

CREATE TABLE idempotency (
    merchant_id TEXT NOT NULL,
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_mac    BYTEA NOT NULL,
    state       TEXT NOT NULL,
    status_code BIGINT NOT NULL DEFAULT 0,
    headers     TEXT NOT NULL DEFAULT '{}',
    body        BYTEA,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, scope, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);

-- +goose Down
DROP TABLE idempotency;
DROP TABLE transactions;
DROP TABLE onetime_tokens;
DROP TABLE mandates;
DROP TABLE instruments;
DROP TABLE addresses;
DROP TABLE profiles;
DROP TABLE users;
DROP TABLE developers;
DROP TABLE api_keys;
DROP TABLE product_transactions;
DROP TABLE locations;
DROP TABLE merchants;
DROP TABLE keysets;
DROP TABLE settings;
