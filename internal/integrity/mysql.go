package integrity

import (
	"fmt"
	"strings"
)

// mysqlSQL spells the definitions in MySQL and MariaDB: CRC32 (fast) picks
// the sample, MD5 (strong, and the only 64-bit-wide hash both servers
// have) hashes the rows. MD5 returns hex; CONV reads a hex prefix as an
// unsigned integer.
type mysqlSQL struct{}

// binaryTypes are rendered as hex: converting their bytes to a character
// set could lose or reject some.
var binaryTypes = map[string]bool{
	"binary": true, "varbinary": true, "bit": true,
	"tinyblob": true, "blob": true, "mediumblob": true, "longblob": true,
	"geometry": true, "point": true, "linestring": true, "polygon": true,
	"multipoint": true, "multilinestring": true, "multipolygon": true, "geometrycollection": true,
}

// cell converts text to one character set, so that columns of different
// character sets concatenate without a collation error and a change of
// character set alone is no change.
func (mysqlSQL) cell(quoted string, c column) string {
	if binaryTypes[strings.ToLower(c.typ)] {
		return "QUOTE(HEX(" + quoted + "))"
	}
	return "QUOTE(CONVERT(" + quoted + " USING utf8mb4))"
}

// join: QUOTE never returns NULL, so CONCAT_WS skips nothing.
func (mysqlSQL) join(cells []string) string { return "CONCAT_WS(','," + strings.Join(cells, ",") + ")" }

func (mysqlSQL) bucket(text string) string {
	return fmt.Sprintf("CRC32(%s) %% 100", text)
}

func (mysqlSQL) rowHash(text string) string {
	return fmt.Sprintf("CAST(CONV(SUBSTRING(MD5(%s), 1, 15), 16, 10) AS UNSIGNED)", text)
}

// total: SUM over integers is DECIMAL, which cannot overflow here.
func (mysqlSQL) total(sum string) string { return "CAST(COALESCE(" + sum + ", 0) AS CHAR)" }
