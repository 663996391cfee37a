package bluegreen_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
)

// mysqlTypes has the MySQL values that are easy to alter in transit:
// binary strings, floats, bits, unsigned and wide decimals, zero dates,
// a latin1 column, an id 0 that NO_AUTO_VALUE_ON_ZERO must keep, and a
// generated column the copy must leave to the server.
const mysqlTypes = `
CREATE TABLE kinds (
	id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
	b blob NULL,
	f float NULL,
	d double NULL,
	e enum('a', 'b c') NULL,
	s set('x', 'y') NULL,
	j json NULL,
	dt datetime(6) NULL,
	dd date NULL,
	ts timestamp(3) NULL,
	y year NULL,
	bits bit(8) NULL,
	u bigint unsigned NULL,
	amount decimal(30,10) NULL,
	bin varbinary(16) NULL,
	latin varchar(20) CHARACTER SET latin1 NULL,
	twice int GENERATED ALWAYS AS (y * 2) VIRTUAL,
	KEY twice_idx (twice)
) AUTO_INCREMENT = 1000;
`

// mysqlRowZero is one statement batch (the SET must reach the INSERT's
// session): the test handle allows several statements per call.
const mysqlRowZero = `
SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO');
INSERT INTO kinds (id, b, f, d, e, s, j, dt, dd, ts, y, bits, u, amount, bin, latin) VALUES
	(0, X'00FF0A0D5C27', 1.1, 0.1, 'b c', 'x,y', '{"k": "v\\"q", "n": [1, null]}', '0000-00-00 00:00:00', '0000-00-00',
	 '2024-03-31 02:30:00.123', 2024, b'101', 18446744073709551615, 12345678901234567890.0123456789, X'DEADBEEF', 'café');
`

func TestCloneMySQLTypes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	blue := newTestDB(t, engines[1])
	blue.exec(t, mysqlTypes)
	_, err := blue.db.ExecContext(ctx, mysqlRowZero)
	g.Expect(err).NotTo(HaveOccurred())
	var rows [][]any
	for i := 1; i <= 300; i++ {
		var e any = []string{"a", "b c"}[i%2]
		if i%9 == 0 {
			e = nil
		}
		rows = append(rows, []any{
			[]byte{byte(i), 0, '\'', '\\', byte(255 - i%256)}, float32(i) * 1.1, 1 / float64(i), e, []string{"", "x", "y", "x,y"}[i%4],
			fmt.Sprintf(`{"i": %d, "s": "ü\"%d"}`, i, i), fmt.Sprintf("2023-12-%02d 23:59:59.%06d", 1+i%28, i*999), "2024-01-15",
			fmt.Sprintf("2024-10-27 0%d:30:00.%03d", i%4, i%1000), 1901 + i%254, i % 256, uint64(1) << (i % 64), fmt.Sprintf("-%d.%010d", i, i*7), []byte{0xca, 0xfe, byte(i)}, "naïve",
		})
	}
	blue.insertRows(t, "kinds", []string{"b", "f", "d", "e", "s", "j", "dt", "dd", "ts", "y", "bits", "u", "amount", "bin", "latin"}, rows)

	green := cloneName(t, blue, "kinds")
	res, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{BatchSize: 50})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows).To(Equal(int64(301)))

	gr := blue.greenOf(t, green)
	expectSameSchema(t, blue, gr)
	g.Expect(gr.rows(t, "kinds")).To(Equal(blue.rows(t, "kinds")))
	g.Expect(checksum(t, gr, "kinds")).To(Equal(checksum(t, blue, "kinds")), "the stored bytes are the same")
	g.Expect(gr.count(t, "kinds WHERE id = 0")).To(Equal(int64(1)), "id 0 stays 0")

	next := func(d *testDB) int64 {
		res, err := d.db.ExecContext(ctx, "INSERT INTO kinds (f) VALUES (1)")
		g.Expect(err).NotTo(HaveOccurred())
		id, err := res.LastInsertId()
		g.Expect(err).NotTo(HaveOccurred())
		return id
	}
	g.Expect(next(gr)).To(Equal(next(blue)))
}

// checksum is CHECKSUM TABLE's value: the same for the same stored rows.
func checksum(t *testing.T, d *testDB, table string) int64 {
	t.Helper()
	var name string
	var sum int64
	NewWithT(t).Expect(d.db.QueryRowContext(context.Background(), "CHECKSUM TABLE "+table).Scan(&name, &sum)).To(Succeed())
	return sum
}

// TestCloneMySQLStopsWhenAWriteFails: the copy reads the next batch while
// it writes the last; a write that fails ends the read too, and the clone
// fails with the write's error, saying how far it got.
func TestCloneMySQLStopsWhenAWriteFails(t *testing.T) {
	g := NewWithT(t)
	blue := newTestDB(t, engines[1])
	blue.createBig(t, 20000)
	green := cloneName(t, blue, "fails")

	var batches int
	_, err := bluegreen.Clone(context.Background(), blue.target, green, bluegreen.Options{
		BatchSize: 1000,
		Progress: func(table string, n, _ int64) {
			if table != "big" || n == 0 {
				return
			}
			batches++
			if batches == 2 {
				// Between two INSERTs: the next one finds no table.
				blue.greenOf(t, green).exec(t, "DROP TABLE big")
			}
		},
	})
	g.Expect(err).To(MatchError(ContainSubstring("copying rows: table big: writing to green")))
	g.Expect(err).To(MatchError(ContainSubstring("doesn't exist")))
	g.Expect(batches).To(Equal(2), "no batch written after the failed one")
	g.Expect(bluegreen.Drop(context.Background(), blue.target, green)).To(Succeed())
}
