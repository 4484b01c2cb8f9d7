-- Merkle tree tiles of the audit log: base hashes of tree level 8×level,
-- nodes [256×idx, 256×idx+256), 32 bytes each (issue 3).
CREATE TABLE tiles (
	level  INTEGER NOT NULL,
	idx    INTEGER NOT NULL,
	hashes BLOB NOT NULL,
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;
