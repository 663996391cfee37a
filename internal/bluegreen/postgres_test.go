package bluegreen_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// pgTypes is a schema of what Atlas's open-source driver does not carry
// whole: an extension type, an enum, an identity column with its own
// options, a sequence of its own shared through a default, a serial
// column whose table was renamed (so its sequence has another name), a
// generated column; and values whose text is easy to get wrong.
const pgTypes = `
CREATE EXTENSION citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SEQUENCE invoice_numbers AS integer INCREMENT BY 10 MINVALUE 100 MAXVALUE 1000000 START WITH 100 CYCLE;
CREATE SEQUENCE spare START WITH 7 CACHE 20;
CREATE TABLE things (
	id integer GENERATED ALWAYS AS IDENTITY (START WITH 50 INCREMENT BY 5 MAXVALUE 1000000) PRIMARY KEY,
	invoice integer NOT NULL DEFAULT nextval('invoice_numbers'),
	handle citext NOT NULL UNIQUE,
	feeling mood,
	tags text[],
	doc jsonb,
	raw bytea,
	span interval,
	ratio double precision,
	small real,
	period tstzrange,
	twice integer GENERATED ALWAYS AS (id * 2) STORED
);
CREATE TABLE renamed_from (id serial PRIMARY KEY, invoice integer DEFAULT nextval('invoice_numbers'), v text);
ALTER TABLE renamed_from RENAME TO renamed_to;
`

const pgTypesRows = `
INSERT INTO things (handle, feeling, tags, doc, raw, span, ratio, small, period)
SELECT 'Handle-' || i,
	(ARRAY['sad', 'ok', 'happy', NULL])[1 + i % 4]::mood,
	ARRAY['a', 'b c', NULL, 'quote"d', E'back\\slash'],
	jsonb_build_object('k', 'v"' || i, 'n', i, 'nested', jsonb_build_array(1, 'x', NULL)),
	decode(lpad(to_hex(i), 8, '0') || '00ff0a0d', 'hex'),
	make_interval(days => i, secs => i / 7.0),
	CASE i % 5 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN 'Infinity'::float8 WHEN 2 THEN 1e-300 ELSE 0.1 * i END,
	(1.1 * i)::real,
	tstzrange('2024-01-01'::timestamptz + make_interval(hours => i), '2024-02-01', '[)')
FROM generate_series(1, 500) AS i;
INSERT INTO renamed_to (v) SELECT E'line\nbreak\ttab ' || i FROM generate_series(1, 40) AS i;
DELETE FROM renamed_to WHERE id > 30;
SELECT nextval('spare'), nextval('spare'), nextval('spare');
`

// pgText dumps a table as the server prints its rows: the exact text.
func pgText(t *testing.T, d *testDB, table string) []string {
	t.Helper()
	rows, err := d.db.QueryContext(context.Background(), "SELECT x::text FROM "+table+" x ORDER BY 1")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		NewWithT(t).Expect(rows.Scan(&s)).To(Succeed())
		out = append(out, s)
	}
	NewWithT(t).Expect(rows.Err()).NotTo(HaveOccurred())
	return out
}

// nextValues inserts a row into each table and returns the values the
// sequences gave it.
func nextValues(t *testing.T, d *testDB) []int64 {
	t.Helper()
	ctx := context.Background()
	var id, inv, rid, rinv int64
	NewWithT(t).Expect(d.db.QueryRowContext(ctx, "INSERT INTO things (handle) VALUES ('next') RETURNING id, invoice").Scan(&id, &inv)).To(Succeed())
	NewWithT(t).Expect(d.db.QueryRowContext(ctx, "INSERT INTO renamed_to (v) VALUES ('next') RETURNING id, invoice").Scan(&rid, &rinv)).To(Succeed())
	return []int64{id, inv, rid, rinv}
}

func TestClonePostgresTypesAndSequences(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	blue := newTestDB(t, engines[0])
	blue.exec(t, pgTypes)
	blue.exec(t, pgTypesRows)
	green := cloneName(t, blue, "types")
	res, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{BatchSize: 64})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows).To(Equal(int64(500 + 30)))

	gr := blue.greenOf(t, green)
	expectSameSchema(t, blue, gr)
	for _, table := range []string{"things", "renamed_to"} {
		g.Expect(pgText(t, gr, table)).To(Equal(pgText(t, blue, table)), table)
	}
	var seq string
	g.Expect(gr.db.QueryRowContext(ctx, "SELECT pg_get_serial_sequence('renamed_to', 'id')").Scan(&seq)).To(Succeed())
	g.Expect(seq).To(Equal("public.renamed_from_id_seq"), "the sequence keeps blue's name")

	// Every sequence has blue's options and has reached blue's value...
	const sequences = "SELECT sequencename, data_type::text, start_value, min_value, max_value, increment_by, cycle, cache_size, last_value FROM pg_sequences ORDER BY 1"
	g.Expect(gr.rows(t, "("+sequences+") s")).To(Equal(blue.rows(t, "("+sequences+") s")))
	g.Expect(gr.count(t, "pg_sequences")).To(Equal(int64(4)))
	// ...so new rows continue where blue's would.
	want := nextValues(t, blue)
	g.Expect(nextValues(t, gr)).To(Equal(want))
	g.Expect(want).To(Equal([]int64{50 + 500*5, 100 + (500+30+10)*10, 41, 100 + (500+30+10+1)*10}),
		"the identity, shared and serial sequences as the fixture left them")

	// The extension's type works in green: citext compares without case.
	_, err = gr.db.ExecContext(ctx, "INSERT INTO things (handle) VALUES ('HANDLE-1')")
	g.Expect(err).To(HaveOccurred(), "unique citext")
}

// TestClonePostgresLocale: green sorts text as blue does, including a blue
// whose collation comes from ICU.
func TestClonePostgresLocale(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	base := dbtest.PostgresURL(t)
	admin := dbtest.OpenPostgres(t, base)
	var b [6]byte
	_, _ = rand.Read(b[:])
	blueName := "kst_icu_" + hex.EncodeToString(b[:])
	_, err := admin.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{blueName}.Sanitize()+
		" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'de-DE'")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{blueName}.Sanitize()+" WITH (FORCE)")
	})
	target, err := database.ParseURL(base)
	g.Expect(err).NotTo(HaveOccurred())
	target.URL.Path = "/" + blueName
	blue := &testDB{e: engines[0], target: target, db: dbtest.OpenPostgres(t, target.URL.String())}
	blue.exec(t, "CREATE TABLE words (w text PRIMARY KEY)")
	blue.insertRows(t, "words", []string{"w"}, [][]any{{"Äpfel"}, {"apfel"}, {"Zebra"}, {"zebra"}, {"Öl"}})

	green := cloneName(t, blue, "icu")
	_, err = bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pgLocaleOf(t, admin, green)).To(Equal(pgLocaleOf(t, admin, blueName)))
	g.Expect(pgLocaleOf(t, admin, green)).To(HaveKeyWithValue("datlocprovider", "i"))
	gr := blue.greenOf(t, green)
	g.Expect(pgText(t, gr, "words")).To(Equal(pgText(t, blue, "words")), "ORDER BY sorts the same")
}

// pgLocaleOf reads a database's encoding and locale columns, whichever of
// them the server version has.
func pgLocaleOf(t *testing.T, admin *sql.DB, name string) map[string]any {
	t.Helper()
	var raw []byte
	err := admin.QueryRowContext(context.Background(), "SELECT to_jsonb(d) FROM pg_database d WHERE datname = $1", name).Scan(&raw)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	var all map[string]any
	NewWithT(t).Expect(json.Unmarshal(raw, &all)).To(Succeed())
	kept := map[string]any{}
	for _, k := range []string{"encoding", "datcollate", "datctype", "datlocprovider", "daticulocale", "datlocale", "daticurules"} {
		if v, ok := all[k]; ok {
			kept[k] = v
		}
	}
	return kept
}

// TestClonePostgresTableWithoutColumns: a PostgreSQL table may hold rows
// and no column a copy can select. Empty, it is cloned; with rows, the
// clone refuses it rather than make green without them.
func TestClonePostgresTableWithoutColumns(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	blue := newTestDB(t, engines[0])
	blue.exec(t, "CREATE TABLE bare ()")
	_, err := bluegreen.Clone(ctx, blue.target, cloneName(t, blue, "bare"), bluegreen.Options{})
	g.Expect(err).NotTo(HaveOccurred())

	blue.exec(t, "INSERT INTO bare DEFAULT VALUES; INSERT INTO bare DEFAULT VALUES")
	_, err = bluegreen.Clone(ctx, blue.target, cloneName(t, blue, "rows"), bluegreen.Options{})
	g.Expect(err).To(MatchError(ContainSubstring("table bare: 2 rows but no column that can be copied")))
}

// TestClonePostgresProgressStartsFromTheEstimate: the total Progress
// hears while a table is copied is the server's estimate of its rows,
// from its statistics, not a count of them.
func TestClonePostgresProgressStartsFromTheEstimate(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	blue := newTestDB(t, engines[0])
	// No autovacuum: the statistics stay those of the ANALYZE below.
	blue.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)")
	blue.exec(t, "INSERT INTO items SELECT i, i FROM generate_series(1, 300) i")
	blue.exec(t, "ANALYZE items")
	blue.exec(t, "INSERT INTO items SELECT i, i FROM generate_series(301, 400) i")

	seen := progress{}
	_, err := bluegreen.Clone(ctx, blue.target, cloneName(t, blue, "est"), bluegreen.Options{BatchSize: 100, Progress: seen.record})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(seen["items"][0]).To(Equal([2]int64{0, 300}), "the estimate, not the 400 rows")
	g.Expect(seen.dones("items")).To(Equal([]int64{0, 100, 200, 300, 400}))
	g.Expect(seen.last("items")).To(Equal([2]int64{400, 400}))
}
