-- Cheaper seat writes (docs/decisions/0043-seat-rows-updated-in-place.md): every lock, release,
-- hold and sale of a seat also rewrote its entry in this index; the available-seats count it served
-- reads the session's rows through the primary key instead.
DROP INDEX ot_session_seats_status;
