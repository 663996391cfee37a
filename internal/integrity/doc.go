// Package integrity checks that data survives a migration step: it is
// kube-shift's validation.dataIntegrityChecks.
//
// Capture records, for each table of a schema, its exact row count and,
// when asked, a checksum over a sample of its rows. Recheck captures the
// same tables again after a data script or a copy and reports every
// difference; Diff and DiffTables compare a table with its copy (blue-green
// copies in another database, shadow-table copies next to the original).
//
// The reconciler calls these on the apply's own connection or transaction,
// so nothing here writes, locks or creates anything: each table costs one
// read-only query (plus one catalogue query per schema).
//
// What is compared, and why it is defined this way:
//
//   - A row's text is its values, each rendered as text and quoted as an
//     SQL literal (NULL as NULL), in column-name order, joined by commas
//     (MySQL renders binary columns as hex first).
//     Rendering as text means int→bigint or varchar→text is no change;
//     ordering by name means the physical column order is no change either.
//   - A row is sampled when a hash of its key text (the row text of its
//     primary-key columns), modulo 100, falls below the sample percentage.
//     The choice depends only on the key, so the same rows are chosen
//     before and after, whatever the physical order or layout of the table.
//   - The checksum is the sum, over the sampled rows, of a 64-bit hash of
//     each row text, in decimal. A sum does not depend on the order rows
//     are read in, so no ORDER BY is needed.
//
// The hashes are each engine's fastest deterministic ones, computed in the
// server in the same query that counts the rows: PostgreSQL's
// hashtextextended for both; on MySQL/MariaDB, CRC32 to sample and the
// first 60 bits of MD5 per row. SQLite has no hash function, so it renders
// the texts and Go hashes them as MySQL does. Checksums are therefore only
// comparable between captures on the same engine. Tables without a
// primary key cannot be sampled by key: they are counted only
// (Table.CountOnly).
//
// Errors name tables, columns and counts, never a value: values may be
// sensitive.
package integrity
