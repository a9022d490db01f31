-- Team plans read models (seed 004, part 1), written by the projectors `plans_companies` and
-- `plans_status` (docs/read-models.md, section "Team plans (seed 004)", documents every column).
-- Ids are the 24-hex ObjectIds the events carry, so a rebuild gives every row the same id.
-- Instants are UTC (TEXT). No personal data: members are named by ids only (their email stays
-- with the identity). No foreign keys.

-- One row per company (`PlansCompanyCreated`).
CREATE TABLE plans_companies (
    company_id  TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL,
    owner_id    TEXT        NOT NULL,
    created_at  TEXT NOT NULL
);

-- One row per member of a company (the creator as owner, then `PlansMemberAdded`); removed
-- members are deleted (`PlansMemberRemoved`): the log keeps the history.
CREATE TABLE plans_members (
    company_id  TEXT        NOT NULL,
    user_id     TEXT        NOT NULL,
    account_id  TEXT        NOT NULL,
    role        TEXT        NOT NULL,
    joined_at   TEXT NOT NULL,
    PRIMARY KEY (company_id, user_id)
);

-- One row per company that ever had a trial or a paid period: the trial running (null once it
-- ended by an event), the latest paid period with the status its events recorded, and which
-- paid plans were ever trialled or bought. Queries read time-dependent states against the clock
-- (a trial past `trial_end` is over even before its deadline fires).
CREATE TABLE plans_status (
    company_id      TEXT        PRIMARY KEY,
    trial_id        TEXT,
    trial_plan      TEXT,
    trial_user_id   TEXT,
    trial_start     TEXT,
    trial_end       TEXT,
    paid_id         TEXT,
    paid_plan       TEXT,
    paid_user_id    TEXT,
    paid_members    INTEGER,
    paid_start      TEXT,
    paid_end        TEXT,
    paid_grace_end  TEXT,
    paid_status     TEXT,
    trialled_pro    BOOLEAN     NOT NULL DEFAULT 0,
    trialled_ent    BOOLEAN     NOT NULL DEFAULT 0,
    bought_pro      BOOLEAN     NOT NULL DEFAULT 0,
    bought_ent      BOOLEAN     NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL
);
