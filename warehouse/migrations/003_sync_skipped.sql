-- A part of a sync that the source cannot serve (e.g. an AWS endpoint without the Savings Plans
-- calls) is recorded as skipped, with why, instead of as an error: Data health shows it apart.
-- Cleared by the next success or error of that source/scope.
ALTER TABLE sync_state ADD COLUMN skipped VARCHAR;
