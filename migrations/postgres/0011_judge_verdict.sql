-- A `best` composite's choice for a request (issue #21): the winner, the judge's scores and
-- reason, or why it fell back to the first answer — one JSON object (`app::types::Verdict`),
-- written with the log row and read back whole.
ALTER TABLE request_logs ADD COLUMN verdict TEXT;
