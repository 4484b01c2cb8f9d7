-- The audit log keeps each entry as its Merkle leaf, the canonical bytes
-- that are hashed (package audit, LeafData), and nothing else: what is
-- verified is exactly what is stored, one column to read per entry (the
-- verifier's speed), one value to bind per append (the read path's).
-- The Go step that follows this file copies the old rows' leaves, then
-- replaces the table.
CREATE TABLE audit_leaf (
	seq  INTEGER PRIMARY KEY,
	leaf BLOB NOT NULL
);
