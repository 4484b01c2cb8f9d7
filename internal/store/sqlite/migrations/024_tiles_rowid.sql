-- The tiles as rowid tables (issue 14). A WITHOUT ROWID table keeps each
-- row whole in its B-tree, interior pages included, and a tile's 8 KiB of
-- hashes overflow the page: SQLite reads an overflowing cell whole to
-- compare its key, so every key met on the way down to a tile read a
-- whole tile through its overflow pages (a pread each). With a rowid, the
-- key (level, idx) is a small index, and the hashes are read once, from
-- the row it finds. A Go step then adds each full tile's stratum
-- (package audit, Tile).
CREATE TABLE tiles_rowid (
	level  INTEGER NOT NULL,
	idx    INTEGER NOT NULL,
	hashes BLOB NOT NULL,
	PRIMARY KEY (level, idx)
);
INSERT INTO tiles_rowid (level, idx, hashes) SELECT level, idx, hashes FROM tiles ORDER BY level, idx;
DROP TABLE tiles;
ALTER TABLE tiles_rowid RENAME TO tiles;
CREATE TABLE index_tiles_rowid (
	level  INTEGER NOT NULL,
	idx    INTEGER NOT NULL,
	hashes BLOB NOT NULL,
	PRIMARY KEY (level, idx)
);
INSERT INTO index_tiles_rowid (level, idx, hashes) SELECT level, idx, hashes FROM index_tiles ORDER BY level, idx;
DROP TABLE index_tiles;
ALTER TABLE index_tiles_rowid RENAME TO index_tiles;
