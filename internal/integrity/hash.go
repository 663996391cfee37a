package integrity

import (
	// md5 spots changes; it is no defence against forgery, and needs none.
	"crypto/md5"
	"encoding/binary"
	"hash/crc32"
	"math/big"
	"math/bits"
)

// The Go side of the definitions in the package documentation, for
// SQLite, which has no hash function. They are MySQL's: CRC32 and MD5.

// bucket maps a key text to 0..99: its CRC-32 (IEEE, as MySQL's CRC32)
// modulo 100.
func bucket(keyText string) int {
	return int(crc32.ChecksumIEEE([]byte(keyText)) % 100)
}

// rowHash is the first 60 bits of a row text's md5.
func rowHash(rowText string) uint64 {
	sum := md5.Sum([]byte(rowText))
	return binary.BigEndian.Uint64(sum[:8]) >> 4
}

// total is a 128-bit sum of row hashes: 60-bit hashes cannot overflow it
// before 2^68 rows.
type total struct{ hi, lo uint64 }

// add adds one row hash.
func (t *total) add(h uint64) {
	var carry uint64
	t.lo, carry = bits.Add64(t.lo, h, 0)
	t.hi += carry
}

// String is the sum in decimal, as the SQL engines render theirs.
func (t total) String() string {
	n := new(big.Int).SetUint64(t.hi)
	n.Lsh(n, 64)
	return n.Or(n, new(big.Int).SetUint64(t.lo)).String()
}
