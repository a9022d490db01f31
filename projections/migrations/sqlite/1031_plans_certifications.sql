-- Team plans certification read models (seed 004 `auth`, part 2), written by the projector
-- `plans_certifications` (docs/read-models.md, section "Team plans: certification"). Ids are the
-- 24-hex ObjectIds the events carry, so a rebuild gives every row the same id. Instants are UTC.
-- Personal data is masked here (analysts query these tables): `contact_masked` keeps the first
-- character of the name and the last 4 of the phone and ID card number, and only counts the ID
-- card photos. The full data stays in the (sealed) events, read by owners and staff only.

-- One row per application, as it stands now.
CREATE TABLE plans_certifications (
    auth_id         TEXT        PRIMARY KEY,
    company_id      TEXT        NOT NULL,
    plan            TEXT        NOT NULL,
    user_id         TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    date_apply      TEXT NOT NULL,
    versions        INTEGER NOT NULL,
    contact_masked  TEXT        NOT NULL,
    team            TEXT        NOT NULL,
    enterprise      TEXT        NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX plans_certifications_company ON plans_certifications (company_id, date_apply);
CREATE INDEX plans_certifications_status ON plans_certifications (status, date_apply);

-- The review log: one row per step of an application (posted, reposted, cancelled, accepted,
-- rejected, expired), `seq` from 1 in event order.
CREATE TABLE plans_certification_log (
    auth_id     TEXT        NOT NULL,
    seq         INTEGER NOT NULL,
    action      TEXT        NOT NULL,
    by_id       TEXT        NOT NULL,
    reason      TEXT,
    at          TEXT NOT NULL,
    PRIMARY KEY (auth_id, seq)
);
