-- A canary flag on the subject row itself, so that the read path learns it
-- from the row it reads anyway (the canaries table keeps the partner
-- binding). Like the rest of the row it is out of every API's reach.
ALTER TABLE subjects ADD COLUMN canary INTEGER NOT NULL DEFAULT 0;
