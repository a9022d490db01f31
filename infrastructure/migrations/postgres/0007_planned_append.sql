-- One-statement appends (docs/decisions/0042-one-statement-appends.md).
--
-- A group of commits that Tessera planned from the stream heads it remembers (versions, chained
-- hashes, recorded_at) is written by this function, called alone in autocommit: one round trip,
-- and no Tessera code runs while the log head's row lock is held. The function checks every
-- assumption the plan rests on under the same locks the transaction path takes, in the same order
-- (stream rows sorted, then the log head), and raises SQLSTATE 'TS001' when one does not hold: a
-- stream's version or last hash moved, or the head's recorded_at is later than the plan's. An event
-- id already stored fails on events_event_id_key. Either way nothing is written (the statement is
-- its own transaction) and Tessera writes the group again through the locked transaction, which
-- decides every case.
--
-- Arguments, one array entry per row: the plan's recorded_at (UTC); the events (positions as
-- offsets from the head: 1, 2, ...; stream, version, id, type, schema version, data and metadata
-- as JSON text, prev hash, hash); the deadlines (id, stream, kind, payload as JSON text, due at);
-- the written streams' new heads (stream, version, last hash); then the heads the plan started
-- from for the same streams, sorted (stream, version, last hash; version 0 and the genesis hash for
-- a stream without events). Returns the head position the events were numbered after.
CREATE FUNCTION tessera_append_planned(
    at timestamptz,
    e_offsets bigint[], e_streams text[], e_versions bigint[], e_ids uuid[], e_types text[],
    e_schemas int4[], e_data text[], e_metadata text[], e_prev text[], e_hashes text[],
    d_ids uuid[], d_streams text[], d_kinds text[], d_payloads text[], d_due timestamptz[],
    n_streams text[], n_versions bigint[], n_hashes text[],
    p_streams text[], p_versions bigint[], p_hashes text[]
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    matched integer;
    head_position bigint;
    head_at timestamptz;
BEGIN
    -- Lock (creating when new) the stream rows in sorted order, as the transaction path does. A
    -- new row starts at the planned head, which matches only when the plan started from version 0.
    WITH locked AS (
        INSERT INTO streams (stream_id, version, last_hash)
        SELECT p.s, 0, p.h FROM UNNEST(p_streams, p_hashes) WITH ORDINALITY AS p(s, h, n)
        ORDER BY p.n
        ON CONFLICT (stream_id) DO UPDATE SET stream_id = EXCLUDED.stream_id
        RETURNING stream_id, version, last_hash
    )
    SELECT count(*) INTO matched
    FROM locked JOIN UNNEST(p_streams, p_versions, p_hashes) AS p(s, v, h)
        ON locked.stream_id = p.s AND locked.version = p.v AND locked.last_hash = p.h;
    IF matched <> cardinality(p_streams) THEN
        RAISE EXCEPTION 'a stream moved since the group was planned' USING ERRCODE = 'TS001';
    END IF;

    SELECT position, recorded_at INTO head_position, head_at
    FROM event_log_head WHERE id = 1 FOR UPDATE;
    IF head_at > at THEN
        RAISE EXCEPTION 'the log head was recorded after the plan' USING ERRCODE = 'TS001';
    END IF;

    INSERT INTO events (global_position, stream_id, stream_version, event_id, event_type,
                        schema_version, data, metadata, recorded_at, prev_hash, hash)
    SELECT head_position + u.o, u.s, u.v, u.id, u.t, u.sv, u.d::jsonb, u.m::jsonb, at, u.ph, u.h
    FROM UNNEST(e_offsets, e_streams, e_versions, e_ids, e_types, e_schemas, e_data, e_metadata,
                e_prev, e_hashes) AS u(o, s, v, id, t, sv, d, m, ph, h);
    INSERT INTO deadlines (deadline_id, stream_id, kind, payload, due_at, next_attempt_at)
    SELECT d.id, d.s, d.kind, d.payload::jsonb, d.due, d.due
    FROM UNNEST(d_ids, d_streams, d_kinds, d_payloads, d_due) AS d(id, s, kind, payload, due)
    ON CONFLICT (deadline_id) DO NOTHING;
    UPDATE streams SET version = n.v, last_hash = n.h
    FROM UNNEST(n_streams, n_versions, n_hashes) AS n(s, v, h)
    WHERE streams.stream_id = n.s;
    UPDATE event_log_head SET position = head_position + cardinality(e_ids), recorded_at = at
    WHERE id = 1;
    RETURN head_position;
END;
$$;
