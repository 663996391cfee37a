package sqlstatic

import (
	"testing"

	. "github.com/onsi/gomega"
)

func TestWrittenTables(t *testing.T) {
	g := NewWithT(t)
	g.Expect(WrittenTables("UPDATE orders SET a = 1; INSERT INTO public.\"Audit\" VALUES (1); delete from `shop`.`items` where id = 2;")).
		To(Equal([]string{"orders", "Audit", "items"}))
	g.Expect(WrittenTables("INSERT IGNORE INTO t SELECT * FROM u; REPLACE INTO t VALUES (1); TRUNCATE TABLE v;")).To(Equal([]string{"t", "v"}))
	g.Expect(WrittenTables("SELECT * FROM orders; CREATE TABLE x (id int);")).To(BeEmpty())
}
