-- Cheaper seat writes (docs/decisions/0043-seat-rows-updated-in-place.md). A seat row is written
-- on every lock, release, hold and sale: thousands of times a second in an onsale, and again for
-- every one of them in a rebuild. An index on `status` made each of those writes insert new entries
-- into both indexes and leave a dead row version behind; without it, and with room left on each
-- page, PostgreSQL updates the row on its own page (a HOT update) and touches no index. The
-- available-seats count it served reads the session's rows through the primary key instead.
DROP INDEX ot_session_seats_status;
ALTER TABLE ot_session_seats SET (fillfactor = 50);
